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
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return any(getattr(r, "code", None) == CONDITION_FAILED for r in reasons if r is not None)


def unavailable(what: str) -> Unavailable:
    """The 503 a DynamoDB failure becomes: honest that ``what`` did not happen, and to try again."""
    return Unavailable(f"{what} did not happen: the accounts store is not answering; try again",
                       headers={"Retry-After": "2"})
