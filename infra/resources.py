"""The resources Haul needs beyond what Chalice creates, as CloudFormation resources.

Tables come from the PynamoDB models (their keys, indexes and streams are declared once,
in chalicelib/models.py); queues and the bucket are declared here. The CloudFormation
template (``chalice package --merge-template``) and the local bootstrap (infra/bootstrap.py)
are both made from :func:`resources`.
"""

from __future__ import annotations

from typing import Any

from pynamodb.models import Model

from chalicelib.config import Config
from chalicelib.models import ControlModel, PartModel, TaskModel

# The worker's Lambda timeout; SQS visibility must be at least six times it.
WORKER_TIMEOUT_SECONDS = 300
MAX_RECEIVE_COUNT = 5
# logical id -> (model, the Config field that names its table)
TABLES: dict[str, tuple[type[Model], str]] = {
    "TasksTable": (TaskModel, "tasks_table"),
    "PartsTable": (PartModel, "parts_table"),
    "ControlTable": (ControlModel, "control_table"),
}


def _table(model: type[Model], name: str) -> dict[str, Any]:
    schema = model._get_schema()

    def keys(key_schema: Any) -> list[dict[str, str]]:
        # CloudFormation and DynamoDB both want the HASH key first.
        return sorted(
            ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in key_schema),
            key=lambda k: k["KeyType"] != "HASH",
        )

    props: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(schema["attribute_definitions"], key=lambda a: a["AttributeName"]),
        "KeySchema": keys(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    indexes = [
        {
            "IndexName": gsi["index_name"],
            "KeySchema": keys(gsi["key_schema"]),
            "Projection": gsi["projection"],
        }
        for gsi in schema["global_secondary_indexes"]
    ]
    if indexes:
        props["GlobalSecondaryIndexes"] = indexes
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        props["StreamSpecification"] = {"StreamViewType": stream}
    return {"Type": "AWS::DynamoDB::Table", "Properties": props}


def resources(config: Config) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for logical, (model, field) in TABLES.items():
        out[logical] = _table(model, getattr(config, field))
    out["WorkDeadLetterQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {"QueueName": config.work_dlq, "MessageRetentionPeriod": 1209600},
    }
    out["WorkQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": config.work_queue,
            "VisibilityTimeout": 6 * WORKER_TIMEOUT_SECONDS,
            "MessageRetentionPeriod": 1209600,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]},
                "maxReceiveCount": MAX_RECEIVE_COUNT,
            },
        },
    }
    out["FilesBucket"] = {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketName": config.bucket,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "LifecycleConfiguration": {
                "Rules": [
                    {
                        "Id": "abort-incomplete-multipart-uploads",
                        "Status": "Enabled",
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    }
                ]
            },
        },
    }
    return out
