"""infra/: the merge template generated for each stage, without packaging (fast checks).

The packaged template (after ``chalice package`` merged it) is checked by
tests/functional/test_package.py."""

from __future__ import annotations

import copy
import importlib
import pkgutil
from typing import Any

import pytest
from pynamodb.models import Model

import chalicelib
from chalicelib.config import RESOURCE_ENV, Config
from infra import template
from infra.cfn import Resolver
from infra.resources import (
    CONDITIONS,
    CONSUMER_TIMEOUTS,
    PARAMETERS,
    QUEUES,
    TABLES,
    VISIBILITY_FACTOR,
    resource_fields,
    resources,
)

STAGES = ("dev", "prod")


@pytest.fixture(scope="module")
def app_module() -> Any:
    return importlib.import_module("app")


@pytest.fixture(scope="module", params=STAGES)
def built(request, app_module) -> tuple[str, dict[str, Any]]:
    return request.param, template.build(request.param, app_module)


def _models() -> set[type[Model]]:
    found: set[type[Model]] = set()
    for info in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Model) and value is not Model \
                    and getattr(value.Meta, "table_name", None):
                found.add(value)
    return found


def test_every_model_has_a_table() -> None:
    declared = {model for model, _ in TABLES.values()}
    # A second model over a declared table (e.g. chalicelib/persistence/settings.py's SettingsItem and
    # chalicelib/persistence/hostslots.py's HostSlotItem over the control table) needs no table of its
    # own, as long as it keys the table the same way.
    tables = {model.Meta.table_name: model for model in declared}
    undeclared = set()
    for model in _models() - declared:
        twin = tables.get(model.Meta.table_name)
        if twin is None or model._hash_key_attribute().attr_name != twin._hash_key_attribute().attr_name:
            undeclared.add(model)
    assert not undeclared, f"PynamoDB models with no entry in infra/resources.py TABLES: {undeclared}"
    config = Config.from_env()
    for model, field in TABLES.values():
        assert model.Meta.table_name == getattr(config, field), f"{model.__name__} is not named by Config.{field}"


def test_every_resource_setting_of_the_code_is_a_declared_resource() -> None:
    """Each HAUL_* name the code reads (chalicelib/config.py RESOURCE_ENV) sets one Config
    field, and that field names one of the template's tables, queues or buckets."""
    env_of = template.env_for_fields()
    assert set(env_of.values()) == set(RESOURCE_ENV.values())
    assert set(env_of) == set(resource_fields().values())


def test_stage_resources_and_deletion_policy(built) -> None:
    stage, tpl = built
    config = template.stage_config(stage)
    for logical, res in resources(config).items():
        assert tpl["Resources"][logical]["Type"] == res["Type"]
    data = [r for r in tpl["Resources"].values() if r.get("Type") in {"AWS::DynamoDB::Table", "AWS::S3::Bucket"}]
    assert data and {r["DeletionPolicy"] for r in data} == {"Retain" if stage == "prod" else "Delete"}
    bucket = tpl["Resources"]["FilesBucket"]["Properties"]["BucketName"]
    assert bucket == {"Fn::Sub": f"haul-{stage}-bucket-${{AWS::AccountId}}-${{AWS::Region}}"}


def test_every_function_gets_every_resource_name(built, app_module) -> None:
    _, tpl = built
    fns = template.functions(app_module)
    assert {f.logical_id for f in fns} >= {"APIHandler", "Work", "DeadLetters", "Reconcile"}
    for fn in fns:
        env = tpl["Resources"][fn.logical_id]["Properties"]["Environment"]["Variables"]
        assert set(RESOURCE_ENV.values()) <= set(env), fn.logical_id


def test_sqs_consumers(built, app_module) -> None:
    stage, tpl = built
    consumers = [f for f in template.functions(app_module) if f.kind == "sqs"]
    # Every queue has a consumer, but the dead-letter queues kept for inspection (the jobs' and
    # the notifications': their depth is reported by /health/detailed).
    kept = {q for q in QUEUES if any(
        (r.get("Properties", {}).get("RedrivePolicy") or {}).get("deadLetterTargetArn") == {"Fn::GetAtt": [q, "Arn"]}
        for r in tpl["Resources"].values()) and q != "WorkDeadLetterQueue"}
    assert kept == {"JobsDeadLetterQueue", "NotifyDeadLetterQueue"}
    assert {f.source for f in consumers} | kept == set(QUEUES)
    for fn in consumers:
        assert fn.source is not None and fn.event is not None
        settings = template.chalice_config(stage, fn.name)
        props = tpl["Resources"][fn.logical_id]["Properties"]
        (event,) = props["Events"].values()
        assert event["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert event["Properties"]["Queue"] == {"Fn::Sub": "${" + fn.source + ".Arn}"}
        assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == settings.reserved_concurrency
        queue = tpl["Resources"][fn.source]["Properties"]
        assert queue["VisibilityTimeout"] >= VISIBILITY_FACTOR * settings.lambda_timeout
        assert props["Role"] == {"Fn::GetAtt": [f"{fn.logical_id}Role", "Arn"]}
    work = tpl["Resources"]["WorkQueue"]["Properties"]
    assert work["RedrivePolicy"]["maxReceiveCount"] >= 1
    assert work["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]}


def test_worker_concurrency_is_capped_in_every_deployed_stage() -> None:
    for stage in STAGES:
        reserved = template.chalice_config(stage, "work").reserved_concurrency
        assert isinstance(reserved, int) and reserved >= 2, stage


def test_a_consumer_timeout_the_queue_cannot_cover_is_refused(app_module) -> None:
    disk = copy.deepcopy(template.chalice_config_file())
    disk["stages"]["dev"]["lambda_functions"]["work"]["lambda_timeout"] = CONSUMER_TIMEOUTS["WorkQueue"] + 1
    with pytest.raises(template.TemplateError, match="visibility timeout"):
        template.build("dev", app_module, disk)


def _statements(tpl: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for res in tpl["Resources"].values():
        for policy in res.get("Properties", {}).get("Policies", []) or []:
            out.extend(policy["PolicyDocument"]["Statement"])
    return out


def test_iam_has_no_wildcard_actions_and_no_wildcard_data_resources(built) -> None:
    _, tpl = built
    statements = _statements(tpl)
    assert statements
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert statement["Effect"] == "Allow"
        assert not any("*" in a for a in actions), statement
        if statement["Resource"] == "*" or "*" in statement["Resource"]:
            assert all(a.startswith("xray:") for a in actions), statement


def test_tracing_follows_the_stage(built) -> None:
    stage, tpl = built
    assert tpl["Resources"]["RestAPI"]["Properties"]["TracingEnabled"] is template.chalice_config(stage).xray_enabled


def test_file_expiry_is_a_deploy_time_choice() -> None:
    bucket = resources(Config.from_env({"HAUL_STAGE": "dev"}))["FilesBucket"]["Properties"]
    keep = Resolver(PARAMETERS, CONDITIONS).resolve(bucket)["LifecycleConfiguration"]["Rules"]
    expire = Resolver(PARAMETERS, CONDITIONS, {"FileExpiryDays": 30}).resolve(bucket)["LifecycleConfiguration"]["Rules"]
    assert [r["Id"] for r in keep] == ["abort-incomplete-multipart-uploads"]
    assert expire[1] == {"Id": "expire-stored-files", "Status": "Enabled", "ExpirationInDays": 30}
    assert bucket["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]


def test_tables_carry_indexes_streams_and_ttl() -> None:
    defs = resources(Config.from_env({"HAUL_STAGE": "dev"}))
    for logical, (model, _) in TABLES.items():
        props = defs[logical]["Properties"]
        schema = model._get_schema()
        assert {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])} == {
            i["index_name"] for i in schema["global_secondary_indexes"]
        }
        stream = getattr(model.Meta, "stream_view_type", None)
        assert props.get("StreamSpecification") == ({"StreamViewType": stream} if stream else None)
        ttl = model._ttl_attribute()
        assert props.get("TimeToLiveSpecification") == (
            {"AttributeName": ttl.attr_name, "Enabled": True} if ttl else None
        )


def test_the_signing_key_comes_from_secrets_manager_and_only_it_may_be_read(built) -> None:
    _, tpl = built
    res = tpl["Resources"]
    secret = res[template.JWT_SECRET]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "SecretString" not in secret["Properties"], "the key must be generated, never written down"
    for name, fn in res.items():
        env = fn.get("Properties", {}).get("Environment", {}).get("Variables")
        if env is not None:
            assert env["HAUL_JWT_SECRET_NAME"] == {"Ref": template.JWT_SECRET}, name
    statements = res["DefaultRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    reads = [s for s in statements if "secretsmanager:GetSecretValue" in s["Action"]]
    assert reads and all(
        s["Resource"] == [{"Ref": template.JWT_SECRET}, {"Ref": template.SETUP_TOKEN_SECRET}] for s in reads)


def test_a_deployed_stage_has_a_generated_one_time_setup_token(built) -> None:
    """Issue #11, item 10: generated by Secrets Manager, handed to every function, an output."""
    _, tpl = built
    res = tpl["Resources"]
    secret = res[template.SETUP_TOKEN_SECRET]
    assert secret["Type"] == "AWS::SecretsManager::Secret" and "SecretString" not in secret["Properties"]
    assert secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    assert tpl["Outputs"]["SetupTokenSecret"] == {"Value": {"Ref": template.SETUP_TOKEN_SECRET}}
    for name, fn in res.items():
        env = fn.get("Properties", {}).get("Environment", {}).get("Variables")
        if env is not None:
            assert env["HAUL_SETUP_TOKEN_SECRET_NAME"] == {"Ref": template.SETUP_TOKEN_SECRET}, name
