"""The worker function: SQS work messages in, parts into S3."""

from __future__ import annotations

import json
import logging
from typing import Any

from chalice.app import SQSEvent

from chalicelib.container import services
from chalicelib.domain import deadletters
from chalicelib.feeds import handlers as feed_messages
from chalicelib.feeds.handlers import is_feed_message
from chalicelib.health.persistence import mark
from chalicelib.notify.events import dead_letter_error
from chalicelib.sidecars import handlers as sidecar_messages
from chalicelib.sidecars.handlers import is_sidecars_message
from chalicelib.transfer import INVOCATION_SECONDS, Delivery

log = logging.getLogger("haul.worker")


def handle(event: SQSEvent) -> dict[str, Any]:
    """Process each record; report the ones that failed so only they are redelivered."""
    failures = []
    mark("worker")  # the newest worker heartbeat, for GET /health/detailed (at most every 10 s)
    for record in event:
        raw = record.to_dict()
        try:
            body = json.loads(record.body)
            if isinstance(body, dict) and body.get("kind") == "kick":
                # A timed pause of the queue is over (or nearly): dispatch, or wait on.
                services().queue_control.on_kick(body)
                continue
            if is_feed_message(body):
                # refresh a feed (chalicelib/feeds/)
                feed_messages.on_message(services().feeds, body, services().config.visibility_timeout)
                continue
            if is_sidecars_message(body):
                # NFOs left over by an API request (chalicelib/sidecars/)
                sidecar_messages.on_message(services().sidecars, body, services().config.visibility_timeout * 0.6)
                continue
            count = int(raw.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            services().transfer.handle(Delivery(body, record.receipt_handle, count, remaining(event)))
        except Exception:
            log.exception("work message %s failed; SQS will redeliver it", raw.get("messageId"))
            failures.append({"itemIdentifier": raw.get("messageId")})
    return {"batchItemFailures": failures}


def remaining(event: SQSEvent) -> float:
    """Seconds this invocation has left (Lambda's context; a full invocation without one)."""
    context: Any = event.context
    try:
        return max(0.0, float(context.get_remaining_time_in_millis()) / 1000)
    except (AttributeError, TypeError, ValueError):
        return INVOCATION_SECONDS


def handle_dead_letters(event: SQSEvent) -> dict[str, Any]:
    """A message that kept failing: fail its task loudly (if it is the task's current run)
    instead of losing it silently (chalicelib/transfer/outcomes.py Outcomes.dead_letter)."""
    for record in event:
        try:
            body = json.loads(record.body)
        except ValueError:
            log.error("dead letter that is not JSON: %.200s", record.body)
            continue
        count = record.to_dict().get("attributes", {}).get("ApproximateReceiveCount", "?")
        if services().transfer.dead_letter(body, str(count)) == deadletters.Verdict.FAIL:
            announce_dead_letter(body, str(count))
    return {"batchItemFailures": []}


def announce_dead_letter(body: dict[str, Any], count: str) -> None:
    """An ``error`` notification to the owner of the task a dead letter failed; a failure to
    queue it is logged, the dead letter is not retried for it."""
    try:
        task = services().repo.get(deadletters.task_of(body) or "")
        if task is not None:
            services().notify.publish(dead_letter_error(task, str(body.get("kind", "work")), count))
    except Exception:
        log.exception("could not queue the error notification of a dead letter")
