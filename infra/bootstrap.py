"""Create Haul's resources in an emulator (or LocalStack) from the same definitions as the
CloudFormation template (infra/resources.py): tables with their indexes, stream and TTL, the
queues with their redrive policy, the bucket with its encryption, public access block and
lifecycle rules.

Idempotent: what exists is left as it is, so a restart against a backend that kept its
state picks up where it was (an index the model declares and the table lacks is created;
one the table has and the model does not is reported).

Command line (the LocalStack init hook uses it)::

    python -m infra.bootstrap [--stage local] [--endpoint http://localhost:4566]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.config import Config

from .cfn import Resolver
from .resources import CONDITIONS, PARAMETERS, resources

log = logging.getLogger("haul.bootstrap")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


# -- DynamoDB ---------------------------------------------------------------------------------
def create_table(dynamodb: Any, props: dict[str, Any]) -> dict[str, str]:
    name = props["TableName"]
    kwargs = {k: props[k] for k in ("TableName", "BillingMode", "AttributeDefinitions", "KeySchema")}
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in props:
            kwargs[key] = props[key]
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    try:
        dynamodb.create_table(**kwargs)
        log.info("created table %s", name)
    except ClientError as exc:
        if _code(exc) != "ResourceInUseException":
            raise
    table: dict[str, Any] = {}
    for _ in range(120):
        table = dynamodb.describe_table(TableName=name)["Table"]
        if table["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.5)
    else:
        raise RuntimeError(f"table {name} did not become active")
    _add_missing_indexes(dynamodb, table, props)
    _report_drift(dynamodb.describe_table(TableName=name)["Table"], props)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in {"ENABLED", "ENABLING"}:
            dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attributes = {"Arn": table["TableArn"]}
    if table.get("LatestStreamArn"):
        attributes["StreamArn"] = table["LatestStreamArn"]
    return attributes


def _add_missing_indexes(dynamodb: Any, table: Mapping[str, Any], props: Mapping[str, Any]) -> None:
    """Create the indexes the model declares and a kept table lacks (as CloudFormation does
    for a deployed stage, one index per update): a backend that kept its state from before a
    new index still works."""
    have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    for index in props.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] in have:
            continue
        names = {k["AttributeName"] for k in index["KeySchema"]}
        dynamodb.update_table(
            TableName=props["TableName"],
            AttributeDefinitions=[a for a in props["AttributeDefinitions"] if a["AttributeName"] in names],
            GlobalSecondaryIndexUpdates=[{"Create": {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}}],
        )
        log.info("table %s: created the missing index %s", props["TableName"], index["IndexName"])


def _report_drift(table: Mapping[str, Any], props: Mapping[str, Any]) -> None:
    want = {i["IndexName"] for i in props.get("GlobalSecondaryIndexes", [])}
    have = {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
    if want != have:
        log.warning(
            "table %s has indexes %s but its model declares %s; delete the table (or the "
            "emulator's state) to recreate it", props["TableName"], sorted(have), sorted(want),
        )


# -- SQS ----------------------------------------------------------------------------------------
def _attribute(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def create_queue(sqs: Any, props: dict[str, Any]) -> dict[str, str]:
    name = props["QueueName"]
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = {k: _attribute(v) for k, v in props.items() if k != "QueueName"}
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"Arn": str(arn), "QueueName": name, "QueueUrl": url}


# -- S3 -------------------------------------------------------------------------------------------
def _lifecycle_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    return out


def create_bucket(s3: Any, props: dict[str, Any], region: str) -> dict[str, str]:
    name = props["BucketName"]
    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
        log.info("created bucket %s", name)
    except ClientError as exc:
        if _code(exc) not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
            raise
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    if "BucketEncryption" in props:
        rules = [
            {"ApplyServerSideEncryptionByDefault": r["ServerSideEncryptionByDefault"]}
            for r in props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": rules})
    if "OwnershipControls" in props:
        s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls=props["OwnershipControls"])
    rules = props.get("LifecycleConfiguration", {}).get("Rules", [])
    if rules:
        s3.put_bucket_lifecycle_configuration(
            Bucket=name, LifecycleConfiguration={"Rules": [_lifecycle_rule(r) for r in rules]}
        )
    return {"Arn": f"arn:aws:s3:::{name}"}


# -- all of them ----------------------------------------------------------------------------------
def bootstrap(config: Config, session: Any, parameters: Mapping[str, Any] | None = None) -> dict[str, dict[str, str]]:
    """Create every table, queue and bucket of ``config``'s stage that does not exist yet.

    ``parameters`` overrides template parameters (e.g. ``{"FileExpiryDays": 30}``); the rest take
    their defaults. Returns each resource's attributes (``Arn``, ``StreamArn``, ``QueueUrl``)."""
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = session.client(service)
        return clients[service]

    creators: dict[str, Callable[[dict[str, Any]], dict[str, str]]] = {
        "AWS::DynamoDB::Table": lambda p: create_table(client("dynamodb"), p),
        "AWS::SQS::Queue": lambda p: create_queue(client("sqs"), p),
        "AWS::S3::Bucket": lambda p: create_bucket(client("s3"), p, config.region),
    }
    resolver = Resolver(PARAMETERS, CONDITIONS, parameters)
    pending = dict(resources(config))
    created: dict[str, dict[str, str]] = {}
    while pending:
        ready = [k for k, v in pending.items() if resolver.references(v["Properties"]) <= set(created)]
        if not ready:
            raise RuntimeError(f"resources that depend on each other or on nothing known: {sorted(pending)}")
        for logical in ready:
            res = pending.pop(logical)
            create = creators.get(res["Type"])
            if create is None:
                # Policies and the like: access control the emulators do not enforce.
                log.debug("not applied locally: %s (%s)", logical, res["Type"])
                created[logical] = {}
                continue
            created[logical] = create(resolver.resolve(res["Properties"]))
            for attribute, value in created[logical].items():
                resolver.attributes[(logical, attribute)] = value
    return created


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", help="the stage whose resources to create (default: HAUL_STAGE or local)")
    parser.add_argument("--endpoint", help="the AWS endpoint (default: AWS_ENDPOINT_URL)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    if args.stage:
        os.environ["HAUL_STAGE"] = args.stage
    if args.endpoint:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint
    import boto3

    config = Config.from_env()
    created = bootstrap(config, boto3.session.Session(region_name=config.region))
    names = ", ".join(sorted(created))
    print(f"Haul resources of stage {config.stage} ready at {os.environ.get('AWS_ENDPOINT_URL', 'AWS')}: {names}")


if __name__ == "__main__":
    main()
