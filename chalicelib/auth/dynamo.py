"""Telling DynamoDB's answers apart: a condition that did not hold is an answer about the data;
anything else (throttling, an outage, a missing table) is a failure to report, never to swallow."""

from __future__ import annotations

from pynamodb.exceptions import PynamoDBException

from ..errors import Unavailable

CONDITION_FAILED = "ConditionalCheckFailedException"


def conditional_failure(exc: PynamoDBException) -> bool:
    """Whether ``exc`` is DynamoDB refusing a write because its condition did not hold."""
    if exc.cause_response_code == CONDITION_FAILED:
        return True
    # A transaction reports each item's reason; a condition that failed is one of them.
    return any(failed_conditions(exc))


def failed_conditions(exc: PynamoDBException) -> list[bool]:
    """For a cancelled transaction: per item, whether its condition did not hold."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons]


def unavailable(what: str) -> Unavailable:
    """The 503 a DynamoDB failure becomes: honest that ``what`` did not happen, and to try again."""
    return Unavailable(f"{what} did not happen: the accounts store is not answering; try again",
                       headers={"Retry-After": "2"})
