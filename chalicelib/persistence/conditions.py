"""Telling a refused conditional write apart from a failure: the one helper every store uses.

DynamoDB answers a write whose condition did not hold with ``ConditionalCheckFailedException``
(a transaction with a cancellation reason ``ConditionalCheckFailed`` per item). That is an
answer about the data (someone else won the race, the item is gone), to be returned as
False/None by the store; anything else (throttling, an outage, a missing table) is raised.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.models import Model

CONDITION_FAILED = "ConditionalCheckFailedException"


def condition_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is DynamoDB refusing a write because its condition did not hold.

    Understands PynamoDB's exceptions (``cause_response_code``; a cancelled transaction's
    ``cancellation_reasons``) and botocore's ``ClientError`` (``response["Error"]["Code"]``)."""
    if getattr(exc, "cause_response_code", None) == CONDITION_FAILED:
        return True
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and (response.get("Error") or {}).get("Code") == CONDITION_FAILED:
        return True
    return any(failed_conditions(exc))


def failed_conditions(exc: BaseException) -> list[bool]:
    """For a cancelled transaction: per item, whether its condition did not hold."""
    reasons = getattr(exc, "cancellation_reasons", None) or []
    return [getattr(r, "code", None) == "ConditionalCheckFailed" for r in reasons]


def save_if(model: Model, condition: Condition) -> bool:
    """Save ``model`` if ``condition`` holds; False (nothing written) if it does not."""
    try:
        model.save(condition=condition)
    except PutError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def update_if(model: Model, actions: list[Any], condition: Condition | None) -> bool:
    """Update ``model``'s item if ``condition`` holds; False (nothing written) if it does not."""
    try:
        model.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True
