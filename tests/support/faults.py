"""DynamoDB failing on purpose: one operation on one table answers an AWS error.

The error is produced at the botocore client's edge (its ``before-call`` event), so the code
under test meets exactly what a throttled or unavailable DynamoDB gives it: a ``ClientError``
inside PynamoDB's exception, with the real error code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse


@contextmanager
def dynamodb_fails(
    model: Any, operation: str, code: str = "ProvisionedThroughputExceededException"
) -> Iterator[list[str]]:
    """While inside, ``operation`` (e.g. ``UpdateItem``) on ``model``'s table fails with ``code``;
    yields the list of calls it failed."""
    client = model._get_connection().connection.client
    failed: list[str] = []

    def fail(params: dict[str, Any], **_: Any) -> Any:
        body = params.get("body")
        text = body.decode() if isinstance(body, bytes) else str(body)
        if f'"{model.Meta.table_name}"' not in text:
            return None
        failed.append(operation)
        response = AWSResponse("http://dynamodb.test/", 400, {}, None)
        return response, {"Error": {"Code": code, "Message": "injected by tests/support/faults.py"},
                          "ResponseMetadata": {"HTTPStatusCode": 400}}

    event = f"before-call.dynamodb.{operation}"
    client.meta.events.register(event, fail)
    try:
        yield failed
    finally:
        client.meta.events.unregister(event, fail)
