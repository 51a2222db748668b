"""The one helper for a refused conditional write (chalicelib/persistence/conditions.py)."""

from __future__ import annotations

from botocore.exceptions import ClientError
from pynamodb.connection.base import VerboseClientError
from pynamodb.exceptions import CancellationReason, PutError, TransactWriteError, UpdateError

from chalicelib.persistence.conditions import condition_failed, failed_conditions


def _client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "UpdateItem")


def test_a_refused_condition_is_told_apart_from_a_failure() -> None:
    assert condition_failed(UpdateError("m", cause=_client_error("ConditionalCheckFailedException")))
    assert condition_failed(_client_error("ConditionalCheckFailedException"))  # boto3's low-level client
    assert not condition_failed(PutError("m", cause=_client_error("ProvisionedThroughputExceededException")))
    assert not condition_failed(_client_error("ResourceNotFoundException"))
    assert not condition_failed(ValueError("not DynamoDB at all"))


def _cancelled(*codes: str | None) -> TransactWriteError:
    cause = VerboseClientError(
        {"Error": {"Code": "TransactionCanceledException", "Message": "m"}}, "TransactWriteItems",
        cancellation_reasons=[CancellationReason(code=c) if c else None for c in codes],
    )
    return TransactWriteError("m", cause=cause)


def test_a_transaction_refused_by_one_item_condition() -> None:
    assert failed_conditions(_cancelled(None, "ConditionalCheckFailed")) == [False, True]
    assert condition_failed(_cancelled(None, "ConditionalCheckFailed"))
    assert not condition_failed(_cancelled("TransactionConflict"))
