"""Create Haul's resources in an emulator (or LocalStack) from the same definitions.

Idempotent: what exists is left as it is, so a restart against a backend that kept its
state picks up where it was.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import Config

from .resources import resources

log = logging.getLogger("haul.bootstrap")


def _arn_of_queue(sqs: Any, name: str) -> str:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _resolve(value: Any, arns: dict[str, str]) -> Any:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return arns[value["Fn::GetAtt"][0]]
    if isinstance(value, dict):
        return {k: _resolve(v, arns) for k, v in value.items()}
    return value


def create_table(dynamodb: Any, props: dict[str, Any]) -> None:
    kwargs = {k: props[k] for k in ("TableName", "BillingMode", "AttributeDefinitions", "KeySchema")}
    if "GlobalSecondaryIndexes" in props:
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    try:
        dynamodb.create_table(**kwargs)
        log.info("created table %s", props["TableName"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceInUseException":
            raise
    for _ in range(120):
        if dynamodb.describe_table(TableName=props["TableName"])["Table"]["TableStatus"] == "ACTIVE":
            return
        time.sleep(0.5)
    raise RuntimeError(f"table {props['TableName']} did not become active")


def create_queue(sqs: Any, props: dict[str, Any], arns: dict[str, str]) -> str:
    attributes = {}
    for name, value in props.items():
        if name == "QueueName":
            continue
        value = _resolve(value, arns)
        attributes[name] = json.dumps(value) if isinstance(value, dict) else str(value)
    url = sqs.create_queue(QueueName=props["QueueName"])["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return _arn_of_queue(sqs, props["QueueName"])


def create_bucket(s3: Any, props: dict[str, Any], region: str) -> None:
    name = props["BucketName"]
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        log.info("created bucket %s", name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise
    rules = props["LifecycleConfiguration"]["Rules"]
    lifecycle = [
        {"ID": r["Id"], "Status": r["Status"], "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": r["AbortIncompleteMultipartUpload"]}
        for r in rules
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": lifecycle})


def bootstrap(config: Config, session: Any) -> None:
    """Create every table, queue and bucket of ``config``'s stage that does not exist yet."""
    dynamodb = session.client("dynamodb")
    sqs = session.client("sqs")
    s3 = session.client("s3")
    arns: dict[str, str] = {}
    defs = resources(config)
    for res in defs.values():
        if res["Type"] == "AWS::DynamoDB::Table":
            create_table(dynamodb, res["Properties"])
    # Queues in dependency order: a queue's dead-letter queue first.
    pending = {k: v for k, v in defs.items() if v["Type"] == "AWS::SQS::Queue"}
    while pending:
        for logical, res in list(pending.items()):
            text = json.dumps(res["Properties"])
            if all(dep in arns for dep in pending if dep != logical and f'"{dep}"' in text):
                arns[logical] = create_queue(sqs, res["Properties"], arns)
                del pending[logical]
    for res in defs.values():
        if res["Type"] == "AWS::S3::Bucket":
            create_bucket(s3, res["Properties"], config.region)
