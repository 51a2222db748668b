"""The template merged into Chalice's with ``chalice package --merge-template``.

Generated, never edited by hand::

    python -m infra.template --stage dev -o build/template-dev.json

It holds

* every table, queue and bucket of the stage, from :func:`infra.resources.resources` (the
  definitions the local bootstrap also uses), with the stage's deletion policy;
* overrides of the functions Chalice generates, found by importing the Chalice app as
  ``chalice package`` does: the resource names as environment variables (``Ref``/``GetAtt``,
  so CloudFormation creates the resources before the functions), each SQS event source bound
  to its queue's ARN with ``ReportBatchItemFailures`` and a maximum concurrency equal to the
  function's reserved concurrency, each DynamoDB stream source bound to its table's stream;
* least-privilege IAM: Chalice's shared ``DefaultRole`` keeps only what every function needs
  on this stage's own tables, queue and bucket; a function that consumes an event source gets
  a role of its own with the rights to read that source as well;
* X-Ray on the REST API stage (Chalice's ``xray`` setting covers the functions only).

Stage settings (memory, timeout, reserved concurrency, X-Ray, environment) are Chalice's, in
.chalice/config.json; this module reads them with Chalice's own lookup rules.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

from chalicelib.config import RESOURCE_ENV, Config, resource_name

from .resources import CONDITIONS, CONSUMER_TIMEOUTS, PARAMETERS, QUEUES, TABLES, resource_fields, resources

ROOT = Path(__file__).resolve().parent.parent
CHALICE_CONFIG = ROOT / ".chalice" / "config.json"
# Stages whose tables and bucket outlive the stack (``make destroy`` keeps the data).
RETAIN_DATA_STAGES = frozenset({"prod"})
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# The AWS calls the code makes (chalicelib/persistence/repository.py, storage.py, workqueue.py, realtime/),
# as IAM actions. Conditional writes and TransactWriteItems need no actions of their own. A new
# kind of call needs its action here: the emulator does not enforce IAM, AWS does.
DYNAMODB_DATA_ACTIONS = [
    "dynamodb:BatchWriteItem",
    "dynamodb:DeleteItem",
    "dynamodb:DescribeTable",  # PynamoDB reads the key schema before its first call
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
]
S3_OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",  # also what a presigned download link is allowed
    "s3:PutObject",  # also CreateMultipartUpload, UploadPart, CompleteMultipartUpload
]
SQS_SEND_ACTIONS = ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"]
SQS_CONSUME_ACTIONS = [
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
    "sqs:ReceiveMessage",
]
STREAM_READ_ACTIONS = [
    "dynamodb:DescribeStream",
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:ListStreams",
]


# A stream consumer's retries of a failing batch, and the age after which a change is too old
# to be worth delivering.
STREAM_RETRIES = 3
STREAM_MAX_RECORD_AGE = 600
# Consumers whose every record counts (statistics counters, the activity log) read records up
# to the stream's own 24 hours (-1); a live push (the fan-out) is worthless after ten minutes.
STREAM_KEEP_EVERY_RECORD = frozenset({"aggregate_changes", "log_changes"})


class TemplateError(ValueError):
    """The app or its stage configuration cannot be deployed as it is."""


# -- the stage's Chalice configuration ----------------------------------------------------------
def chalice_config_file() -> dict[str, Any]:
    return dict(json.loads(CHALICE_CONFIG.read_text()))


def chalice_config(stage: str, function: str = "api_handler", disk: dict[str, Any] | None = None) -> Any:
    """Chalice's view of one function's settings in ``stage`` (same defaults as the CLI)."""
    from chalice.config import Config as ChaliceConfig
    from chalice.constants import DEFAULT_APIGATEWAY_STAGE_NAME, DEFAULT_LAMBDA_MEMORY_SIZE, DEFAULT_LAMBDA_TIMEOUT

    disk = chalice_config_file() if disk is None else disk
    if stage not in disk.get("stages", {}):
        raise TemplateError(f"stage {stage!r} is not in {CHALICE_CONFIG.relative_to(ROOT)}")
    return ChaliceConfig(
        chalice_stage=stage,
        function_name=function,
        config_from_disk=disk,
        default_params={
            "project_dir": str(ROOT),
            "api_gateway_stage": DEFAULT_APIGATEWAY_STAGE_NAME,
            "lambda_timeout": DEFAULT_LAMBDA_TIMEOUT,
            "lambda_memory_size": DEFAULT_LAMBDA_MEMORY_SIZE,
        },
    )


def stage_environment(stage: str, disk: dict[str, Any] | None = None) -> dict[str, str]:
    """The environment ``chalice package`` imports the app with (the stage's variables)."""
    return {k: str(v) for k, v in chalice_config(stage, disk=disk).environment_variables.items()}


def stage_config(stage: str, disk: dict[str, Any] | None = None) -> Config:
    """Haul's Config as the stage's functions see it, before the template adds resource names."""
    return Config.from_env({"HAUL_STAGE": stage, **stage_environment(stage, disk)})


# -- what the functions are ----------------------------------------------------------------------
@dataclass(frozen=True)
class Function:
    name: str  # Chalice's function name (the key under lambda_functions in config.json)
    logical_id: str  # the AWS::Serverless::Function in Chalice's template
    kind: str  # api, sqs, dynamodb, scheduled, websocket, lambda, cloudwatch, ...
    event: str | None = None  # the SAM event Chalice generates for the function
    source: str | None = None  # the logical id of the queue or table it consumes


def _cfn_name(name: str) -> str:
    from chalice.utils import to_cfn_resource_name

    return str(to_cfn_resource_name(name))


def _field_holding(config: Config, value: str, candidates: Iterable[str]) -> str | None:
    return next((f for f in candidates if getattr(config, f, None) == value), None)


def _table_of_stream(arn: str, config: Config) -> str | None:
    for logical, (_, field) in TABLES.items():
        if f":table/{getattr(config, field)}/stream" in arn:
            return logical
    return None


def functions(app_module: ModuleType) -> list[Function]:
    """Every Lambda function Chalice makes of the app, with the event source it consumes."""
    from chalice.app import DynamoDBEventConfig, SQSEventConfig

    app = app_module.app
    config = getattr(app_module, "CONFIG", None) or Config.from_env()
    out: list[Function] = []
    if app.routes:
        out.append(Function("api_handler", "APIHandler", "api"))
    for source in app.event_sources:
        logical = _cfn_name(source.name)
        if isinstance(source, SQSEventConfig):
            field = _field_holding(config, source.queue or "", QUEUES.values())
            queue = next((q for q, f in QUEUES.items() if f == field), None)
            if queue is None:
                raise TemplateError(
                    f"{source.name} consumes queue {source.queue or source.queue_arn!r}, which is not "
                    "one of infra/resources.py's QUEUES"
                )
            out.append(Function(source.name, logical, "sqs", _cfn_name(f"{source.name}-sqs-event-source"), queue))
        elif isinstance(source, DynamoDBEventConfig):
            table = _table_of_stream(source.stream_arn, config)
            if table is None:
                raise TemplateError(f"{source.name} reads stream {source.stream_arn!r} of no table in TABLES")
            out.append(
                Function(source.name, logical, "dynamodb", _cfn_name(f"{source.name}-dynamodb-event-source"), table)
            )
        else:
            kind = type(source).__name__.replace("EventConfig", "").lower()
            out.append(Function(source.name, logical, kind))
    for handler in app.websocket_handlers.values():
        route = handler.route_key_handled
        name = {"$connect": "websocket_connect", "$disconnect": "websocket_disconnect"}.get(route, "websocket_message")
        if not any(f.name == name for f in out):
            out.append(Function(name, _cfn_name(name), "websocket"))
    for pure in app.pure_lambda_functions:
        out.append(Function(pure.name, _cfn_name(pure.name), "lambda"))
    return out


# -- environment variables -------------------------------------------------------------------
def env_for_fields() -> dict[str, str]:
    """Config field -> the environment variable that sets it (probed, not assumed)."""
    out: dict[str, str] = {}
    baseline = Config.from_env({})
    for env in RESOURCE_ENV.values():
        probed = Config.from_env({env: "__probe__"})
        for f in fields(Config):
            if getattr(probed, f.name) == "__probe__" and getattr(baseline, f.name) != "__probe__":
                out[f.name] = env
    return out


def _env_sets(env: str, field: str) -> bool:
    return bool(getattr(Config.from_env({env: "__probe__"}), field, None) == "__probe__")


def _name_value(logical: str, kind: str) -> Any:
    if kind == "AWS::SQS::Queue":
        return {"Fn::GetAtt": [logical, "QueueName"]}
    return {"Ref": logical}


def resource_environment(defs: Mapping[str, Mapping[str, Any]], websocket: bool, api_stage: str) -> dict[str, Any]:
    env_of = env_for_fields()
    out: dict[str, Any] = {}
    for logical, field in resource_fields().items():
        if field not in env_of:
            raise TemplateError(f"no variable of chalicelib.config.RESOURCE_ENV sets Config.{field} ({logical})")
        out[env_of[field]] = _name_value(logical, defs[logical]["Type"])
    # The tasks table's stream and the WebSocket API, when the code reads them from the
    # environment (chalicelib/config.py).
    for logical, (_, field) in TABLES.items():
        if "StreamSpecification" in defs[logical]["Properties"]:
            stream_field = field.replace("_table", "_stream_arn")  # tasks_table -> tasks_stream_arn
            env = f"HAUL_{stream_field.upper()}"
            if _env_sets(env, stream_field):
                out[env] = {"Fn::GetAtt": [logical, "StreamArn"]}
    if websocket:
        if _env_sets("HAUL_WS_API_ID", "ws_api_id"):
            out["HAUL_WS_API_ID"] = {"Ref": "WebsocketAPI"}
        if _env_sets("HAUL_WS_STAGE", "ws_stage"):
            out["HAUL_WS_STAGE"] = api_stage
    return out


# -- IAM ----------------------------------------------------------------------------------------
def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _arn_sub(logical: str, suffix: str = "") -> dict[str, Any]:
    """``${Logical.Arn}<suffix>``: an ARN below a resource's (its objects, indexes, streams)."""
    return {"Fn::Sub": "${" + logical + ".Arn}" + suffix}


def shared_statements(defs: Mapping[str, Mapping[str, Any]], xray: bool, websocket: bool) -> list[dict[str, Any]]:
    """What every function may do: write its logs and traces, read and write this stage's
    tables and files, and send work messages. Nothing on any other resource."""
    tables = [k for k, v in defs.items() if v["Type"] == "AWS::DynamoDB::Table"]
    buckets = [k for k, v in defs.items() if v["Type"] == "AWS::S3::Bucket"]
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Logs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [
                {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                    "/aws/lambda/${AWS::StackName}-*"
                },
                {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:"
                    "/aws/lambda/${AWS::StackName}-*:*"
                },
            ],
        },
        {
            "Sid": "Tables",
            "Effect": "Allow",
            "Action": DYNAMODB_DATA_ACTIONS,
            "Resource": [_arn(t) for t in tables] + [_arn_sub(t, "/index/*") for t in tables],
        },
        {
            "Sid": "Files",
            "Effect": "Allow",
            "Action": S3_OBJECT_ACTIONS,
            "Resource": [_arn_sub(b, "/*") for b in buckets],
        },
        {
            # Without ListBucket a missing key answers 403 instead of 404.
            "Sid": "FilesBucket",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [_arn(b) for b in buckets],
        },
        {
            "Sid": "SendWork",
            "Effect": "Allow",
            "Action": SQS_SEND_ACTIONS,
            "Resource": [_arn("WorkQueue")],
        },
    ]
    if xray:
        # X-Ray has no resource-level permissions for these two actions.
        statements.append({
            "Sid": "Traces",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        })
    if websocket:
        statements.append(
            {
                "Sid": "PushToConnections",
                "Effect": "Allow",
                "Action": ["execute-api:ManageConnections"],
                "Resource": {
                    "Fn::Sub": "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${WebsocketAPI}/*"
                },
            }
        )
    return statements


def consumer_statements(function: Function) -> list[dict[str, Any]]:
    assert function.source is not None
    if function.kind == "sqs":
        return [
            {
                "Sid": "ConsumeQueue",
                "Effect": "Allow",
                "Action": SQS_CONSUME_ACTIONS,
                "Resource": [_arn(function.source)],
            }
        ]
    return [{
        "Sid": "ReadStream",
        "Effect": "Allow",
        "Action": STREAM_READ_ACTIONS,
        "Resource": [{"Fn::GetAtt": [function.source, "StreamArn"]}, _arn_sub(function.source, "/stream/*")],
    }]


def _role(policy_name: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": LAMBDA_TRUST,
            "Policies": [
                {"PolicyName": policy_name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}
            ],
        },
    }


# -- the template ---------------------------------------------------------------------------------
def _globally_unique_bucket(props: dict[str, Any], stage: str) -> None:
    """S3 names are global: the derived default gets the account and region appended (the
    functions read the real name from HAUL_BUCKET). An explicit HAUL_BUCKET is kept as is."""
    if props["BucketName"] == resource_name(stage, "bucket"):
        props["BucketName"] = {"Fn::Sub": props["BucketName"] + "-${AWS::AccountId}-${AWS::Region}"}


JWT_SECRET = "JwtSigningKey"
SETUP_TOKEN_SECRET = "SetupToken"


def build(stage: str, app_module: ModuleType, disk: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merge template of ``stage`` for the app in ``app_module``."""
    disk = chalice_config_file() if disk is None else disk
    config = stage_config(stage, disk)
    defs = resources(config)
    retain = "Retain" if stage in RETAIN_DATA_STAGES else "Delete"
    out_resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for logical, res in defs.items():
        res = json.loads(json.dumps(res))
        if res["Type"] in {"AWS::DynamoDB::Table", "AWS::S3::Bucket"}:
            res["DeletionPolicy"] = res["UpdateReplacePolicy"] = retain
        if res["Type"] == "AWS::S3::Bucket":
            _globally_unique_bucket(res["Properties"], stage)
        out_resources[logical] = res
        if res["Type"] != "AWS::S3::BucketPolicy":
            outputs[f"{logical}Name"] = {"Value": _name_value(logical, res["Type"])}
    outputs["WorkQueueUrl"] = {"Value": {"Ref": "WorkQueue"}}

    fns = functions(app_module)
    websocket = any(f.kind == "websocket" for f in fns)
    stage_settings = chalice_config(stage, disk=disk)
    xray = bool(stage_settings.xray_enabled)
    env = resource_environment(defs, websocket, stage_settings.api_gateway_stage)
    # The JWT signing key: generated by Secrets Manager, never in code or in the template.
    out_resources[JWT_SECRET] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Description": f"Haul ({stage}): the key that signs access tokens",
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
        },
    }
    env["HAUL_JWT_SECRET_NAME"] = {"Ref": JWT_SECRET}
    # The one-time first-run setup token (chalicelib/auth/setuptoken.py): without it, whoever
    # found the new API first could make themselves its admin. `make deploy` prints it.
    out_resources[SETUP_TOKEN_SECRET] = {
        "Type": "AWS::SecretsManager::Secret",
        "Properties": {
            "Description": f"Haul ({stage}): the one-time token POST /auth/setup needs for the first admin",
            "GenerateSecretString": {"PasswordLength": 32, "ExcludePunctuation": True},
        },
    }
    env["HAUL_SETUP_TOKEN_SECRET_NAME"] = {"Ref": SETUP_TOKEN_SECRET}
    outputs["SetupTokenSecret"] = {"Value": {"Ref": SETUP_TOKEN_SECRET}}
    shared = shared_statements(defs, xray, websocket) + [
        {
            "Sid": "SigningKey",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [{"Ref": JWT_SECRET}, {"Ref": SETUP_TOKEN_SECRET}],
        }
    ]
    # Chalice's shared role, cut down to what every function needs.
    out_resources["DefaultRole"] = {"Properties": _role("HaulFunction", shared)["Properties"]}

    for fn in fns:
        settings = chalice_config(stage, fn.name, disk)
        props: dict[str, Any] = {"Environment": {"Variables": dict(env)}}
        if fn.source is not None:
            role = f"{fn.logical_id}Role"
            out_resources[role] = _role("HaulFunction", shared + consumer_statements(fn))
            props["Role"] = _arn(role)
        if fn.kind == "sqs":
            assert fn.source is not None and fn.event is not None
            timeout = int(settings.lambda_timeout)
            limit = CONSUMER_TIMEOUTS.get(fn.source, 0)
            if timeout > limit:
                raise TemplateError(
                    f"{fn.name} has lambda_timeout {timeout} in stage {stage}, above {limit} s: the "
                    f"visibility timeout of {fn.source} (infra/resources.py) must be six times it"
                )
            event: dict[str, Any] = {
                # Chalice writes the ARN as an Fn::Sub of the queue's name; the merge can only
                # replace that Fn::Sub's string, so this one refers to the queue resource.
                "Queue": _arn_sub(fn.source),
                "FunctionResponseTypes": ["ReportBatchItemFailures"],
            }
            reserved = settings.reserved_concurrency
            if reserved is not None and int(reserved) >= 2:
                # Lambda stops polling at this many concurrent invocations instead of being
                # throttled by the reservation (throttled deliveries would count towards the
                # redrive limit and end in the dead-letter queue).
                event["ScalingConfig"] = {"MaximumConcurrency": int(reserved)}
            props["Events"] = {fn.event: {"Properties": event}}
        elif fn.kind == "dynamodb":
            assert fn.source is not None and fn.event is not None
            props["Events"] = {fn.event: {"Properties": {
                "Stream": {"Fn::GetAtt": [fn.source, "StreamArn"]},
                # A record that keeps failing must not hold up its shard for the stream's 24
                # hours: retry a few times (halving the batch to isolate it), then move on.
                "BisectBatchOnFunctionError": True,
                "MaximumRetryAttempts": STREAM_RETRIES,
                "MaximumRecordAgeInSeconds": -1 if fn.name in STREAM_KEEP_EVERY_RECORD else STREAM_MAX_RECORD_AGE,
            }}}
        elif fn.kind == "scheduled":
            # A missed tick is not worth retrying: the next one comes within the minute, and a
            # retry queued behind a reservation of one would only pile up.
            props["EventInvokeConfig"] = {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 0}
        out_resources[fn.logical_id] = {"Properties": props}

    if any(f.kind == "api" for f in fns):
        out_resources["RestAPI"] = {"Properties": {"TracingEnabled": xray}}
        if chalice_config(stage, "api_handler", disk).log_retention_in_days:
            # Chalice names the REST function's log group after "ApiHandler", but renames the
            # function itself to "APIHandler" (chalice/package.py), leaving a dangling ${ApiHandler}.
            out_resources["ApiHandlerLogGroup"] = {
                "Properties": {"LogGroupName": {"Fn::Sub": "/aws/lambda/${APIHandler}"}}
            }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"Haul ({stage}): serverless download manager (generated by infra/template.py)",
        "Parameters": PARAMETERS,
        "Conditions": CONDITIONS,
        "Resources": out_resources,
        "Outputs": outputs,
    }


def load_app(stage: str) -> ModuleType:
    """Import app.py with the stage's environment, as ``chalice package`` does."""
    for name in [n for n in os.environ if n.startswith("HAUL_")]:
        del os.environ[name]
    os.environ.update(stage_environment(stage))
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    if "app" in sys.modules:
        raise RuntimeError("app.py was already imported with another environment")
    return importlib.import_module("app")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the merge template for `chalice package`.")
    parser.add_argument("--stage", required=True)
    parser.add_argument("-o", "--output", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    try:
        template = build(args.stage, load_app(args.stage))
    except TemplateError as exc:
        parser.exit(2, f"infra.template: {exc}\n")
    text = json.dumps(template, indent=2, sort_keys=False) + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
