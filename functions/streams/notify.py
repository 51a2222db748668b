"""The notifications stream consumer (deployed function ``notify_changes``): the tasks table's
stream in, download events for the owners' targets out (chalicelib/notify/)."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import DynamoDBEvent

from chalicelib.container import services
from chalicelib.notify.events import EventName, batch_outcome, task_events
from chalicelib.persistence.repository import task_from_image

log = logging.getLogger("haul.notify")


def _notify() -> Any:
    return services().notify


def _batch_tasks(batch_id: str, owner: str) -> list[Any]:
    """Every task of a batch (its summary's pages), to see whether it is all finished."""
    batches = services().batches
    out: list[Any] = []
    cursor = None
    while True:
        page, cursor = batches.tasks(batch_id, owner, 500, cursor)
        out += page
        if not cursor:
            return out


def handle_changes(event: DynamoDBEvent) -> None:
    """The tasks table's stream -> download events for the owners' targets."""
    notify = _notify()
    cache: dict[str, Any] = {}
    failed = 0
    for record in event.to_dict().get("Records") or []:
        data = record.get("dynamodb") or {}
        try:
            old, new = task_from_image(data.get("OldImage")), task_from_image(data.get("NewImage"))
            events = task_events(old, new, key=str(record.get("eventID") or "") or None)
            if (new is not None and new.batch_id and old is not None and old.state != new.state
                    and notify.wants(new.owner, EventName.BATCH_COMPLETED, cache)):
                done = batch_outcome(new, _batch_tasks(new.batch_id, new.owner))
                events += [done] if done is not None else []
            for change in events:
                notify.publish(change, cache)
        except Exception:
            failed += 1
            log.exception("notifications: stream record %s", record.get("eventID"))
    if failed:
        # The batch is retried; deliveries already queued are not made twice (their ids come
        # from the stream record's id).
        raise RuntimeError(f"{failed} stream record(s) could not be turned into notifications")
