"""AWS clients, created in one place.

Endpoints are never set here: botocore reads ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` itself, so the same code talks to the embedded emulator,
LocalStack or AWS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from ..config import Config


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    sqs: Any


def make_clients(config: Config) -> AwsClients:
    session = boto3.session.Session(region_name=config.region)
    common = dict(
        retries={"mode": "standard", "max_attempts": 8},
        max_pool_connections=32,
        connect_timeout=5,
        read_timeout=60,
    )
    # No SHA-256 of each body for the signature: botocore leaves it out over HTTPS when the
    # request carries a checksum (every UploadPart and PutObject carries a CRC32), but always
    # computes it over plain HTTP, i.e. against the local emulator or LocalStack: ~35 ms of a
    # worker's CPU per 16 MiB part that no deployed stage pays (docs/performance.md).
    s3 = session.client(
        "s3",
        config=BotoConfig(s3={"addressing_style": "path", "payload_signing_enabled": False}, **common),
    )
    sqs = session.client("sqs", config=BotoConfig(**common))
    return AwsClients(s3=s3, sqs=sqs)


# A binary or binary-set attribute value in an answer: {"B": ...} or {"BS": [...]}.
_BINARY = re.compile(rb'"BS?"\s*:')
# DynamoDB operations whose answers hold items (and nothing else botocore would convert).
_ITEM_OPERATIONS = frozenset({
    "GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
    "BatchWriteItem", "TransactGetItems", "TransactWriteItems",
})


def _items_as_sent(operation_model: Any, response_dict: dict[str, Any],
                   customized_response_dict: dict[str, Any], **_: Any) -> None:
    """Hand botocore a DynamoDB item answer already decoded, instead of having it walked.

    botocore checks every attribute value of every item against the service model, in
    Python: for a page of 50 tasks that walk cost more than the request itself. For the
    item operations the walk changes nothing but binary values (base64 to bytes), so an
    answer without any is decoded with ``json.loads`` alone, and botocore parses an empty
    body in its place (its metadata, errors and retries are untouched). Answers with binary
    values, and every error, take botocore's own way.
    """
    if operation_model.name not in _ITEM_OPERATIONS or response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body")
    if not isinstance(body, bytes) or not body.startswith(b"{") or _BINARY.search(body):
        return  # (a string or a name that merely looks like one is safe: botocore walks it)
    customized_response_dict.update(json.loads(body))
    response_dict["body"] = b"{}"


def fast_item_parsing(client: Any) -> Any:
    """``client`` (a DynamoDB client), decoding item answers without botocore's walk."""
    client.meta.events.register("before-parse.dynamodb", _items_as_sent, unique_id="haul-items-as-sent")
    return client
