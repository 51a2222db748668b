"""infra/ against the embedded emulator: the local bootstrap and the LocalStack init hook create
exactly what infra/resources.py defines; the destroy helper empties a stack's bucket."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import yaml

from chalicelib.config import Config
from infra import stack
from infra.bootstrap import bootstrap
from infra.resources import ABORT_UPLOADS_AFTER_DAYS, TABLES, resources

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "localstack" / "init" / "ready.d" / "haul_resources.py"


def _fresh_stage() -> Config:
    return Config.from_env({"HAUL_STAGE": f"t{uuid.uuid4().hex[:8]}", "AWS_DEFAULT_REGION": "us-east-1"})


def assert_matches_definitions(config: Config, session: Any, expire_days: int = 0) -> None:
    """What the backend holds for ``config``'s stage is what infra/resources.py defines."""
    defs = resources(config)
    dynamodb, sqs, s3 = session.client("dynamodb"), session.client("sqs"), session.client("s3")
    for logical in TABLES:
        want = defs[logical]["Properties"]
        table = dynamodb.describe_table(TableName=want["TableName"])["Table"]
        assert sorted(table["KeySchema"], key=str) == sorted(want["KeySchema"], key=str)
        assert {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"] for i in want.get("GlobalSecondaryIndexes", [])
        }
        assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
        stream = want.get("StreamSpecification")
        assert table.get("StreamSpecification", {}).get("StreamViewType") == (stream or {}).get("StreamViewType")
        ttl = dynamodb.describe_time_to_live(TableName=want["TableName"])["TimeToLiveDescription"]
        if "TimeToLiveSpecification" in want:
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == (
                "ENABLED", want["TimeToLiveSpecification"]["AttributeName"]
            )
    work = defs["WorkQueue"]["Properties"]
    url = sqs.get_queue_url(QueueName=work["QueueName"])["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert int(attrs["VisibilityTimeout"]) == work["VisibilityTimeout"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["maxReceiveCount"] == work["RedrivePolicy"]["maxReceiveCount"]
    assert redrive["deadLetterTargetArn"].endswith(":" + config.work_dlq)
    bucket = config.bucket
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4
    encryption = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": ABORT_UPLOADS_AFTER_DAYS
    }
    if expire_days:
        assert rules["expire-stored-files"]["Expiration"] == {"Days": expire_days}
    else:
        assert "expire-stored-files" not in rules


def test_bootstrap_creates_what_the_template_declares(emulator) -> None:
    config, session = _fresh_stage(), boto3.session.Session()
    created = bootstrap(config, session)
    assert set(created) == set(resources(config))
    assert created["TasksTable"]["StreamArn"].startswith(created["TasksTable"]["Arn"] + "/stream/")
    assert_matches_definitions(config, session)
    # Idempotent, and parameters (file expiry) apply on a later run too.
    again = bootstrap(config, session, {"FileExpiryDays": 30})
    assert again["WorkQueue"]["Arn"] == created["WorkQueue"]["Arn"]
    assert_matches_definitions(config, session, expire_days=30)


def test_bootstrap_command_line(emulator) -> None:
    config = _fresh_stage()
    result = subprocess.run(
        [sys.executable, "-m", "infra.bootstrap", "--stage", config.stage, "--endpoint", emulator],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"stage {config.stage} ready" in result.stdout
    assert_matches_definitions(config, boto3.session.Session())


class _EmulatorSession:
    """Clients of every service on the embedded emulator, whatever AWS_ENDPOINT_URL_<SERVICE>
    says (under `make test-localstack` S3 and SQS are LocalStack's; what a test made on the
    emulator itself must be read back there)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(service, endpoint_url=self.endpoint)


def test_localstack_hook_creates_the_resources(emulator, tmp_path) -> None:
    """The ready.d hook, run as LocalStack would (a plain interpreter that executes the file),
    against the embedded emulator instead of LocalStack: one endpoint for every service, as
    inside LocalStack, so its resources are read back from the emulator."""
    config = _fresh_stage()
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("HAUL_", "AWS_ENDPOINT_URL"))
    }
    env.update(HAUL_SOURCE=str(ROOT), HAUL_HOOK_ENDPOINT=emulator, HAUL_STAGE=config.stage,
               HAUL_HOOK_DEPS=str(tmp_path / "deps"))
    result = subprocess.run([sys.executable, str(HOOK)], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "installing" not in result.stdout  # PynamoDB was importable: nothing fetched
    assert_matches_definitions(config, _EmulatorSession(emulator))


def test_compose_file_mounts_the_hook_and_the_project() -> None:
    compose = yaml.safe_load((ROOT / "localstack" / "docker-compose.yml").read_text())
    service = compose["services"]["localstack"]
    assert "127.0.0.1:4566:4566" in service["ports"]
    volumes = service["volumes"]
    assert "./init/ready.d:/etc/localstack/init/ready.d:ro" in volumes
    assert f"..:{service['environment']['HAUL_SOURCE']}:ro" in volumes
    assert {"dynamodb", "dynamodbstreams", "sqs", "s3"} <= set(service["environment"]["SERVICES"].split(","))
    assert sorted(p.name for p in HOOK.parent.iterdir() if p.suffix in {".py", ".sh"}) == [HOOK.name]


def test_destroy_empties_the_bucket_of_a_stack(emulator) -> None:
    # The emulator's CloudFormation makes the bucket in the emulator's S3: both on the emulator.
    session = _EmulatorSession(emulator)
    s3, cloudformation = session.client("s3"), session.client("cloudformation")
    name = f"haul-destroy-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"FilesBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Delete",
                                      "Properties": {"BucketName": name}}},
        "Outputs": {"FilesBucketName": {"Value": {"Ref": "FilesBucket"}}},
    }))
    bucket, retained = stack.stack_bucket(cloudformation, name)
    assert (bucket, retained) == (name, False)
    for i in range(3):
        s3.put_object(Bucket=name, Key=f"f{i}", Body=b"x")
    s3.create_multipart_upload(Bucket=name, Key="partial")
    assert stack.empty_bucket(s3, name) == (3, 1)
    assert s3.list_objects_v2(Bucket=name).get("KeyCount", 0) == 0
    assert not s3.list_multipart_uploads(Bucket=name).get("Uploads")


def test_destroy_leaves_a_retained_bucket_alone(emulator) -> None:
    cloudformation = boto3.session.Session().client("cloudformation")
    name = f"haul-keep-{uuid.uuid4().hex[:8]}"
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps({
        "Resources": {"FilesBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain",
                                      "Properties": {"BucketName": name}}},
        "Outputs": {"FilesBucketName": {"Value": {"Ref": "FilesBucket"}}},
    }))
    assert stack.stack_bucket(cloudformation, name) == (name, True)


def test_a_kept_table_gets_the_indexes_its_model_added_since(emulator: str) -> None:
    """A backend that kept a tasks table from before an index existed (by-owner-queue, issue
    #11): the bootstrap adds the index, filled with the items already there."""
    from infra.bootstrap import create_table

    session = boto3.session.Session(region_name="us-east-1")
    dynamodb = session.client("dynamodb")
    props = dict(resources(_fresh_stage())["TasksTable"]["Properties"])
    old = dict(props, GlobalSecondaryIndexes=[i for i in props["GlobalSecondaryIndexes"]
                                              if i["IndexName"] != "by-owner-queue"])
    create_table(dynamodb, old)
    dynamodb.put_item(TableName=props["TableName"], Item={
        "id": {"S": "t1"}, "owner": {"S": "u"}, "owner_state": {"S": "u#queued"}, "rank": {"S": "r1"},
        "state": {"S": "queued"}, "created_key": {"S": "1#t1"}, "kind": {"S": "task"},
    })
    create_table(dynamodb, props)
    table = dynamodb.describe_table(TableName=props["TableName"])["Table"]
    assert "by-owner-queue" in {i["IndexName"] for i in table["GlobalSecondaryIndexes"]}
    found = dynamodb.query(
        TableName=props["TableName"],
        IndexName="by-owner-queue",
        KeyConditionExpression="owner_state = :o",
        ExpressionAttributeValues={":o": {"S": "u#queued"}},
    )
    assert [i["id"]["S"] for i in found["Items"]] == ["t1"]
    dynamodb.delete_table(TableName=props["TableName"])
