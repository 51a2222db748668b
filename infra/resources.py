"""The resources Haul needs beyond what Chalice creates, as CloudFormation resources.

Tables come from the PynamoDB models (their keys, indexes, TTL attribute and stream are
declared once, in chalicelib/persistence/models.py); queues and the bucket are declared here. The CloudFormation
template (``chalice package --merge-template``) and the local bootstrap (infra/bootstrap.py)
are both made from :func:`resources`.
"""

from __future__ import annotations

from typing import Any

from pynamodb.models import Model

from chalicelib.config import Config
from chalicelib.persistence.models import (
    ActivityModel,
    ApiKeyModel,
    BatchModel,
    ConnectionModel,
    ControlModel,
    FeedItemModel,
    FeedModel,
    JobModel,
    JobRunModel,
    NotifyDeliveryModel,
    NotifyTargetModel,
    PartModel,
    RateLimitModel,
    SessionModel,
    StatsModel,
    TaskModel,
    UserModel,
)

# The longest Lambda timeout each queue's consumer may have (.chalice/config.json's
# lambda_timeout; the template generator refuses more). A stream transfer (an origin without
# ranges) runs in one invocation, so the worker gets Lambda's maximum.
WORKER_TIMEOUT_SECONDS = 900
DEAD_LETTER_TIMEOUT_SECONDS = 60
# SQS visibility must be at least six times the consumer's timeout (Lambda's guidance).
VISIBILITY_FACTOR = 6
# Receives before a message goes to the dead-letter queue. Throttled deliveries count too,
# which is why the worker's event source gets a maximum concurrency no higher than the
# function's reserved concurrency (infra/template.py).
MAX_RECEIVE_COUNT = 5
# A job run (chalicelib/jobs/) and a notification delivery (chalicelib/notify/): their
# consumers' longest timeouts. Neither queue's handler fails a message for the job's or the
# target's own failure (those are recorded, and a delivery retries with its own backoff); a
# message that keeps crashing its handler goes to the queue's dead-letter queue after this many.
JOB_TIMEOUT_SECONDS = 300
NOTIFY_TIMEOUT_SECONDS = 60
AUTOMATION_MAX_RECEIVE_COUNT = 3
RETENTION_SECONDS = 14 * 24 * 3600
# logical id -> (model, the Config field that names its table)
TABLES: dict[str, tuple[type[Model], str]] = {
    "TasksTable": (TaskModel, "tasks_table"),
    "PartsTable": (PartModel, "parts_table"),
    "ControlTable": (ControlModel, "control_table"),
    "ConnectionsTable": (ConnectionModel, "connections_table"),
    "UsersTable": (UserModel, "users_table"),
    "SessionsTable": (SessionModel, "sessions_table"),
    "ApiKeysTable": (ApiKeyModel, "api_keys_table"),
    "RateLimitsTable": (RateLimitModel, "rate_limits_table"),
    "BatchesTable": (BatchModel, "batches_table"),
    "StatsTable": (StatsModel, "stats_table"),
    "ActivityTable": (ActivityModel, "activity_table"),
    "JobsTable": (JobModel, "jobs_table"),
    "JobRunsTable": (JobRunModel, "job_runs_table"),
    "NotifyTargetsTable": (NotifyTargetModel, "notify_targets_table"),
    "NotifyDeliveriesTable": (NotifyDeliveryModel, "notify_deliveries_table"),
    "FeedsTable": (FeedModel, "feeds_table"),
    "FeedItemsTable": (FeedItemModel, "feed_items_table"),
}


# Logical id -> the Config field that holds the physical name (tables: TABLES above).
QUEUES: dict[str, str] = {
    "WorkDeadLetterQueue": "work_dlq",
    "WorkQueue": "work_queue",
    "JobsDeadLetterQueue": "jobs_dlq",
    "JobsQueue": "jobs_queue",
    "NotifyDeadLetterQueue": "notify_dlq",
    "NotifyQueue": "notify_queue",
}
# Queue logical id -> the longest timeout its consumer may have.
CONSUMER_TIMEOUTS: dict[str, int] = {
    "WorkDeadLetterQueue": DEAD_LETTER_TIMEOUT_SECONDS,
    "WorkQueue": WORKER_TIMEOUT_SECONDS,
    "JobsQueue": JOB_TIMEOUT_SECONDS,
    "NotifyQueue": NOTIFY_TIMEOUT_SECONDS,
}
BUCKETS: dict[str, str] = {"FilesBucket": "bucket"}

# Template parameters the resources use, and conditions on them. The local bootstrap resolves
# them with their defaults (infra/cfn.py).
PARAMETERS: dict[str, dict[str, Any]] = {
    "FileExpiryDays": {
        "Type": "Number",
        "Default": 0,
        "MinValue": 0,
        "Description": "Delete stored files this many days after they were written; 0 keeps them.",
    },
}
CONDITIONS: dict[str, Any] = {
    "ExpireFiles": {"Fn::Not": [{"Fn::Equals": [{"Ref": "FileExpiryDays"}, 0]}]},
}
# Incomplete multipart uploads older than this are aborted (a crashed or abandoned download
# must not keep paying for its parts). A download paused for longer loses its upload.
ABORT_UPLOADS_AFTER_DAYS = 7


def resource_fields() -> dict[str, str]:
    """Every table, queue and bucket: logical id -> the Config field naming it."""
    return {**{logical: field for logical, (_, field) in TABLES.items()}, **QUEUES, **BUCKETS}


def _table(model: type[Model], name: str) -> dict[str, Any]:
    schema = model._get_schema()

    def keys(key_schema: Any) -> list[dict[str, str]]:
        # CloudFormation and DynamoDB both want the HASH key first.
        return sorted(
            ({"AttributeName": k["AttributeName"], "KeyType": k["KeyType"]} for k in key_schema),
            key=lambda k: k["KeyType"] != "HASH",
        )

    def index(spec: Any) -> dict[str, Any]:
        return {
            "IndexName": spec["index_name"],
            "KeySchema": keys(spec["key_schema"]),
            "Projection": spec["projection"],
        }

    props: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": sorted(schema["attribute_definitions"], key=lambda a: a["AttributeName"]),
        "KeySchema": keys(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
    }
    if schema["global_secondary_indexes"]:
        props["GlobalSecondaryIndexes"] = [index(gsi) for gsi in schema["global_secondary_indexes"]]
    if schema["local_secondary_indexes"]:
        props["LocalSecondaryIndexes"] = [index(lsi) for lsi in schema["local_secondary_indexes"]]
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        props["StreamSpecification"] = {"StreamViewType": stream}
    ttl = model._ttl_attribute()
    if ttl is not None:
        props["TimeToLiveSpecification"] = {"AttributeName": ttl.attr_name, "Enabled": True}
    return {"Type": "AWS::DynamoDB::Table", "Properties": props}


def _queue(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": name,
            "MessageRetentionPeriod": RETENTION_SECONDS,
            "SqsManagedSseEnabled": True,
            **extra,
        },
    }


def _bucket(name: str) -> dict[str, Any]:
    return {
        "Type": "AWS::S3::Bucket",
        "Properties": {
            "BucketName": name,
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
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
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOADS_AFTER_DAYS},
                    },
                    {
                        "Fn::If": [
                            "ExpireFiles",
                            {
                                "Id": "expire-stored-files",
                                "Status": "Enabled",
                                "ExpirationInDays": {"Ref": "FileExpiryDays"},
                            },
                            {"Ref": "AWS::NoValue"},
                        ]
                    },
                ]
            },
        },
    }


def _tls_only(bucket: str) -> dict[str, Any]:
    """Refuse plain-HTTP access to the bucket (presigned links included)."""
    return {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": {"Ref": bucket},
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [
                            {"Fn::GetAtt": [bucket, "Arn"]},
                            {"Fn::Sub": "${" + bucket + ".Arn}/*"},
                        ],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }


def resources(config: Config) -> dict[str, dict[str, Any]]:
    """Every table, queue and bucket of ``config``'s stage, as CloudFormation resources."""
    out: dict[str, dict[str, Any]] = {}
    for logical, (model, field) in TABLES.items():
        out[logical] = _table(model, getattr(config, field))
    out["WorkDeadLetterQueue"] = _queue(
        config.work_dlq, VisibilityTimeout=VISIBILITY_FACTOR * DEAD_LETTER_TIMEOUT_SECONDS
    )
    out["WorkQueue"] = _queue(
        config.work_queue,
        VisibilityTimeout=VISIBILITY_FACTOR * WORKER_TIMEOUT_SECONDS,
        RedrivePolicy={
            "deadLetterTargetArn": {"Fn::GetAtt": ["WorkDeadLetterQueue", "Arn"]},
            "maxReceiveCount": MAX_RECEIVE_COUNT,
        },
    )
    for queue, dlq, timeout in (("JobsQueue", "JobsDeadLetterQueue", JOB_TIMEOUT_SECONDS),
                                ("NotifyQueue", "NotifyDeadLetterQueue", NOTIFY_TIMEOUT_SECONDS)):
        out[dlq] = _queue(getattr(config, QUEUES[dlq]))
        out[queue] = _queue(
            getattr(config, QUEUES[queue]),
            VisibilityTimeout=VISIBILITY_FACTOR * timeout,
            RedrivePolicy={"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
                           "maxReceiveCount": AUTOMATION_MAX_RECEIVE_COUNT},
        )
    out["FilesBucket"] = _bucket(config.bucket)
    out["FilesBucketPolicy"] = _tls_only("FilesBucket")
    return out
