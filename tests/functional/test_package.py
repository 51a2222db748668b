"""The deployable package: ``make package``'s template and zip (infra/package.py).

Packaging runs ``chalice package`` (pip fetches the Lambda wheels of requirements.txt) once per
session, and not at all while its inputs are unchanged since the last run (build/package/dev/
inputs.sha256). Then:

* cfn-lint finds nothing wrong with the merged template;
* the template declares every table, queue and bucket the code references, wires them into
  every function, and keeps IAM least-privilege;
* the zip holds everything the functions import: it is unpacked into an empty directory and the
  app is imported from there by an isolated interpreter that sees nothing else but boto3 (which
  the Lambda runtime provides), and one REST route and the worker handler run against the test
  emulator, with X-Ray on as in Lambda.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.config import RESOURCE_ENV, Config
from infra import package as packaging
from infra.bootstrap import bootstrap
from infra.resources import QUEUES, TABLES, VISIBILITY_FACTOR, resources

pytestmark = pytest.mark.slow
STAGE = "dev"
SITE_PACKAGES = Path(boto3.__file__).resolve().parent.parent
# What the Lambda Python runtime provides besides the standard library (boto3 needs s3transfer).
LAMBDA_RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer")
TRACE_ROOT = "1-5f84c7a1-e2b5a1c9d3f0e6b7a8c9d0e1"


@pytest.fixture(scope="session")
def packaged() -> packaging.Packaged:
    return packaging.package(STAGE)


@pytest.fixture(scope="session")
def sam(packaged: packaging.Packaged) -> dict[str, Any]:
    return dict(json.loads(packaged.template.read_text()))


def _functions(sam: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in sam["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def _of_type(sam: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in sam["Resources"].items() if v["Type"] == kind}


# -- the template -------------------------------------------------------------------------------
def test_cfn_lint_finds_nothing(packaged: packaging.Packaged) -> None:
    result = subprocess.run([str(packaging.BIN / "cfn-lint"), str(packaged.template)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_declares_every_resource_the_code_references(sam: dict[str, Any]) -> None:
    dev = Config.from_env({"HAUL_STAGE": STAGE})
    tables = {p["TableName"] for p in _of_type(sam, "AWS::DynamoDB::Table").values()}
    queues = {p["QueueName"] for p in _of_type(sam, "AWS::SQS::Queue").values()}
    buckets = _of_type(sam, "AWS::S3::Bucket")
    # Every model's table (by the Config field that names it).
    for model, field in TABLES.values():
        assert getattr(dev, field) in tables, model.__name__
    assert {getattr(dev, f) for f in QUEUES.values()} == queues
    assert list(buckets) == ["FilesBucket"]
    # Every resource name the code reads from the environment reaches every function, pointing
    # at a resource of this template.
    for name, fn in _functions(sam).items():
        env = fn["Environment"]["Variables"]
        assert env["HAUL_STAGE"] == STAGE
        for var in RESOURCE_ENV.values():
            ref = env[var]
            target = ref.get("Ref") or ref["Fn::GetAtt"][0]
            assert target in sam["Resources"], (name, var)
    # Every event source reads a resource of this template.
    for name, fn in _functions(sam).items():
        for event in fn.get("Events", {}).values():
            props = event["Properties"]
            if event["Type"] == "SQS":
                queue = props["Queue"]["Fn::Sub"].removeprefix("${").removesuffix(".Arn}")
                assert sam["Resources"][queue]["Type"] == "AWS::SQS::Queue", name
            if event["Type"] == "DynamoDB":
                table = props["Stream"]["Fn::GetAtt"][0]
                assert "StreamSpecification" in sam["Resources"][table]["Properties"], name


def test_queues_outlast_their_consumers_and_report_partial_failures(sam: dict[str, Any]) -> None:
    consumers = 0
    for name, fn in _functions(sam).items():
        for event in fn.get("Events", {}).values():
            if event["Type"] != "SQS":
                continue
            consumers += 1
            props = event["Properties"]
            queue = sam["Resources"][props["Queue"]["Fn::Sub"][2:-5]]["Properties"]
            assert queue["VisibilityTimeout"] >= VISIBILITY_FACTOR * fn["Timeout"], name
            assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"], name
            assert props["ScalingConfig"]["MaximumConcurrency"] <= fn["ReservedConcurrentExecutions"], name
    # Every queue but the dead-letter queues kept for inspection (jobs', notifications').
    assert consumers == len([q for q in QUEUES if q not in ("JobsDeadLetterQueue", "NotifyDeadLetterQueue")])
    work = _functions(sam)["Work"]
    assert work["ReservedConcurrentExecutions"] >= 2 and work["Timeout"] <= 900


def test_iam_is_least_privilege(sam: dict[str, Any]) -> None:
    roles = _of_type(sam, "AWS::IAM::Role")
    for name, fn in _functions(sam).items():
        role = fn["Role"]["Fn::GetAtt"][0]
        assert role in roles, name
    for role, props in roles.items():
        for policy in props.get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not any("*" in action for action in actions), (role, statement)
                if "*" in statement["Resource"]:
                    assert all(a.startswith("xray:") for a in actions), (role, statement)
        assert not props.get("ManagedPolicyArns"), role


def test_tracing_is_on(sam: dict[str, Any]) -> None:
    assert {fn["Tracing"] for fn in _functions(sam).values()} == {"Active"}
    assert sam["Resources"]["RestAPI"]["Properties"]["TracingEnabled"] is True


# -- the zip ---------------------------------------------------------------------------------------
def test_zip_holds_the_app_and_nothing_of_the_dev_tree(packaged: packaging.Packaged) -> None:
    with zipfile.ZipFile(packaged.zip) as z:
        names = z.namelist()
        unpacked = sum(i.file_size for i in z.infolist())
    tops = {n.split("/")[0] for n in names}
    assert {"app.py", "chalicelib", "functions", "chalice", "pynamodb", "requests", "pydantic", "aws_xray_sdk"} <= tops
    assert not tops & {"tests", "local_runtime", "infra", "bench", "moto", "vendor", "localstack"}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert {n for n in names if n.startswith("chalice/")} == {"chalice/__init__.py", "chalice/app.py"}
    assert packaged.zip_bytes < 50 * 1024 * 1024 and unpacked < 250 * 1024 * 1024  # Lambda's limits


def test_unchanged_inputs_reuse_the_package(packaged: packaging.Packaged) -> None:
    previous = packaged
    for _ in range(2):
        again = packaging.package(STAGE)
        if again.digest == previous.digest:
            assert again.cached and again.seconds < 10
            return
        previous = again  # someone changed the tree in between (a shared checkout): once more
    pytest.skip("the project kept changing while this test ran")


PROBE = textwrap.dedent(
    """
    import json, sys
    root, runtime = sys.argv[1], sys.argv[2]
    sys.path[:0] = [root]
    sys.path.append(runtime)

    import app

    class Context:
        function_name = "haul-dev-Work"
        function_version = "$LATEST"
        memory_limit_in_mb = 1024
        aws_request_id = "probe-lambda-request"
        invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:haul-dev-Work"
        log_group_name = "/aws/lambda/haul-dev-Work"
        log_stream_name = "probe"
        def get_remaining_time_in_millis(self):
            return 900000

    rest = app.app({
        "resource": "/api/v1/health", "path": "/api/v1/health", "httpMethod": "GET",
        "headers": {"accept": "application/json"}, "multiValueHeaders": {"accept": ["application/json"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": None, "stageVariables": None, "body": None, "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/api/v1/health", "httpMethod": "GET", "path": "/api/api/v1/health",
                           "stage": "api", "requestId": "probe-api-request", "identity": {"sourceIp": "127.0.0.1"}},
    }, Context())
    work = app.work({"Records": [{
        "messageId": "probe-message", "receiptHandle": "probe-receipt",
        "body": json.dumps({"kind": "start", "task": sys.argv[3], "run": 1}),
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q", "awsRegion": "us-east-1",
    }]}, Context())
    stdlib = (sys.base_prefix, sys.base_exec_prefix)
    loaded = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
    outside = sorted(f for f in loaded if f and not f.startswith((root, runtime, *stdlib)))
    print(json.dumps({"rest": rest, "work": work, "outside": outside}))
    """
)


def _resolve(variables: dict[str, Any], defs: dict[str, Any], attributes: dict[str, dict[str, str]]) -> dict[str, str]:
    """The function's environment as CloudFormation would fill it in, with this test stage's
    resources standing in for the stack's."""
    out = {}
    for name, value in variables.items():
        if isinstance(value, str):
            out[name] = value
        elif "Ref" in value:
            props = defs.get(value["Ref"], {}).get("Properties", {})
            out[name] = props.get("TableName") or props.get("BucketName") or "not-deployed-in-tests"
        else:
            logical, attribute = value["Fn::GetAtt"]
            out[name] = attributes[logical][attribute]
    return out


def test_the_packaged_app_runs_from_the_unpacked_zip(packaged, sam, emulator, tmp_path) -> None:
    root, runtime = tmp_path / "task", tmp_path / "runtime"
    root.mkdir()
    runtime.mkdir()
    with zipfile.ZipFile(packaged.zip) as z:
        z.extractall(root)
    for name in LAMBDA_RUNTIME_PACKAGES:
        (runtime / name).symlink_to(SITE_PACKAGES / name)

    config = Config.from_env()  # the test stage, whose resources the emulator holds
    attributes = bootstrap(config, boto3.session.Session())
    function_env = _resolve(_functions(sam)["Work"]["Environment"]["Variables"], resources(config), attributes)
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.5)  # read after the process exited: what it sent is already queued
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        **{
            k: os.environ[k]
            for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
        },
        "AWS_REGION": os.environ["AWS_DEFAULT_REGION"],
        # What Lambda sets: tracing turns itself on, logs go to the runtime's stream as JSON.
        "AWS_LAMBDA_FUNCTION_NAME": "haul-dev-Work",
        "LAMBDA_TASK_ROOT": str(root),
        "_X_AMZN_TRACE_ID": f"Root={TRACE_ROOT};Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        **function_env,
    }
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, str(root), str(runtime), f"missing-{uuid.uuid4().hex}"],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out["outside"] == [], "imported from outside the package and the Lambda runtime"
    rest = out["rest"]
    assert rest["statusCode"] == 200, rest
    assert json.loads(rest["body"])["status"] == "ok"
    assert json.loads(rest["body"])["stage"] == STAGE
    assert rest["headers"]["X-Request-Id"] == "probe-api-request"
    assert out["work"] == {"batchItemFailures": []}
    for line in result.stderr.splitlines():
        assert json.loads(line)["level"], line  # one JSON object per log line
    segments = []
    try:
        while True:
            segments.append(json.loads(daemon.recv(65536).decode().partition("\n")[2]))
    except TimeoutError:
        pass
    finally:
        daemon.close()
    dynamodb = [s for s in segments if s["name"] == "dynamodb"]
    assert dynamodb and dynamodb[0]["trace_id"] == TRACE_ROOT, [s["name"] for s in segments]
    assert time.monotonic() - started < 60
