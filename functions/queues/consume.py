"""What the SQS consumers share: one message at a time, failures reported per message."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalice.app import SQSEvent


def each_message(event: SQSEvent, handle: Callable[[dict[str, Any]], Any], log: logging.Logger,
                 what: str) -> dict[str, Any]:
    """Hand each message's JSON body to ``handle``; the ones it raised for are reported to SQS
    as failed (``batchItemFailures``), so only they come back."""
    failures = []
    for record in event:
        raw = record.to_dict()
        try:
            handle(json.loads(record.body))
        except Exception:
            log.exception("%s message %s could not be handled", what, raw.get("messageId"))
            failures.append({"itemIdentifier": raw.get("messageId")})
    return {"batchItemFailures": failures}
