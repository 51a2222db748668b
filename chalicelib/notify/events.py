"""Notification events: their names, and the events a task change means (pure functions).

Events from downloads come from the tasks table's stream (functions/rest/notify.py consumes it,
as the WebSocket fan-out and the activity log do), so the engine never calls notifications
itself. Jobs, feeds and the dead-letter handler publish their own events through
:class:`chalicelib.notify.service.NotifyService`.

``error`` ("quota or error conditions") is published for conditions that need someone to
look, beyond one download's own failure (docs/automation.md):

- a download's work message kept failing until SQS dead-lettered it (the engine, not the
  origin, could not go on): :func:`dead_letter_error`, from the dead-letter handler;
- a feed failing :data:`FEED_ERROR_STREAK` refreshes in a row (once per streak):
  :func:`feed_error`;
- a notification target that failed for good: :func:`delivery_error`, to the owner's other
  targets, at most once per target and day, and never about an ``error`` or ``test``
  delivery (an error about an error could go round forever).

Haul keeps no storage or per-user quotas yet; one that comes publishes ``error`` the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..domain.states import FINISHED, TaskState
from ..domain.task import Task


class EventName(StrEnum):
    DOWNLOAD_ADDED = "download.added"
    DOWNLOAD_STARTED = "download.started"
    DOWNLOAD_COMPLETED = "download.completed"
    DOWNLOAD_FAILED = "download.failed"
    BATCH_COMPLETED = "batch.completed"
    FEED_MATCHED = "feed.matched"
    FEED_FAILED = "feed.failed"
    JOB_FAILED = "job.failed"
    ERROR = "error"  # quota and error conditions (see the module's docstring)
    TEST = "test"  # the test button: sent to the one target, whatever it subscribes to
    MESSAGE = "message"  # an admin's or a job's own message


SUBSCRIBABLE = tuple(e for e in EventName if e not in (EventName.TEST, EventName.MESSAGE))
DEFAULT_EVENTS = (EventName.DOWNLOAD_COMPLETED, EventName.DOWNLOAD_FAILED, EventName.BATCH_COMPLETED,
                  EventName.JOB_FAILED, EventName.ERROR)


@dataclass(frozen=True)
class Event:
    name: EventName
    owner: str  # whose targets hear of it
    title: str
    message: str
    level: str = "info"  # info | success | warning | error
    data: dict[str, Any] = field(default_factory=dict)
    # A stable id for the occurrence (a stream record's event id): a retried stream batch
    # makes the same delivery ids, so it does not notify twice.
    key: str | None = None


def _size(n: int | None) -> str:
    if n is None:
        return "unknown size"
    step = 1024.0
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < step or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= step
    return f"{n} B"


def _task_data(task: Task) -> dict[str, Any]:
    return {"task_id": task.id, "filename": task.filename, "url": task.url, "state": task.state.value,
            "batch_id": task.batch_id, "size": task.size, "error": task.error}


def task_events(old: Task | None, new: Task | None, key: str | None = None) -> list[Event]:
    """The events of one change of a task (from its old and new images)."""
    if new is None:
        return []
    if old is None:
        return [Event(EventName.DOWNLOAD_ADDED, new.owner, "Download added", f"{new.filename} was added",
                      "info", _task_data(new), key)]
    if old.state == new.state:
        return []
    if new.state == TaskState.DOWNLOADING and old.state == TaskState.QUEUED and not old.started_at:
        return [Event(EventName.DOWNLOAD_STARTED, new.owner, "Download started", f"{new.filename} started",
                      "info", _task_data(new), key)]
    if new.state == TaskState.COMPLETED:
        return [Event(EventName.DOWNLOAD_COMPLETED, new.owner, "Download complete",
                      f"{new.filename} is downloaded ({_size(new.size)})", "success", _task_data(new), key)]
    if new.state == TaskState.FAILED:
        return [Event(EventName.DOWNLOAD_FAILED, new.owner, "Download failed",
                      f"{new.filename} failed: {new.error or 'unknown error'}", "error", _task_data(new), key)]
    return []


def batch_outcome(finished: Task, others: list[Task]) -> Event | None:
    """``batch.completed`` when ``finished`` (a task of a batch that just reached a final state)
    was the batch's last unfinished task; ``others``: the batch's tasks as read now (the index
    may still show ``finished`` in its old state, so it counts as it is in the stream record).
    The event's key is the batch and its final counts: two records concluding the same thing
    make one delivery per target."""
    if not finished.batch_id or finished.state not in FINISHED:
        return None
    tasks = {t.id: t for t in others}
    tasks[finished.id] = finished
    if any(t.state not in FINISHED for t in tasks.values()):
        return None
    counts = {s.value: sum(1 for t in tasks.values() if t.state == s) for s in FINISHED}
    name = finished.batch_name or finished.batch_id
    parts = [f"{counts[s]} {s}" for s in ("completed", "failed", "cancelled") if counts[s]]
    level = "success" if counts["failed"] == 0 else "warning"
    return Event(EventName.BATCH_COMPLETED, finished.owner, "Batch complete", f"{name}: {', '.join(parts)}", level,
                 {"batch_id": finished.batch_id, "batch_name": finished.batch_name, **counts},
                 key=f"batch:{finished.batch_id}:{counts['completed']}:{counts['failed']}:{counts['cancelled']}")


FEED_ERROR_STREAK = 3  # failed refreshes in a row that make a feed an ``error`` condition
DAY_MS = 86_400_000


def dead_letter_error(task: Task, kind: str, receive_count: str) -> Event:
    """A download whose current run's ``kind`` message SQS dead-lettered (its task failed for it).
    Keyed by the task's run and generation: the dead letter redelivered notifies once."""
    data = {**_task_data(task), "condition": "dead_letter", "message_kind": kind, "receive_count": receive_count}
    return Event(EventName.ERROR, task.owner, "Download stopped by an engine error",
                 f"{task.filename}: a {kind} message failed {receive_count} times in a row and was dead-lettered; "
                 "the download is failed, see the worker logs", "error", data,
                 key=f"dead-letter:{task.id}:{task.run}:{task.gen}")


def feed_error(feed_id: str, feed_name: str, owner: str, failures: int, error: str,
               last_ok_at: int | None) -> Event | None:
    """The ``error`` of a feed that has failed :data:`FEED_ERROR_STREAK` refreshes in a row; None
    below or past it (one per streak; the streak is named by the last success it follows)."""
    if failures != FEED_ERROR_STREAK:
        return None
    return Event(EventName.ERROR, owner, f"Feed keeps failing: {feed_name}",
                 f"{feed_name} failed {failures} refreshes in a row; the last: {error[:500]}", "error",
                 {"condition": "feed_failing", "feed_id": feed_id, "feed_name": feed_name, "failures": failures,
                  "error": error[:1000]},
                 key=f"feed-failing:{feed_id}:{last_ok_at or 0}")


def delivery_error(owner: str, target_id: str, target_name: str | None, event: str, attempts: int,
                   error: str | None, now_ms: int) -> Event | None:
    """A target that failed a delivery for good, as an ``error`` for the owner's other targets:
    keyed by the target and the day, so a target that stays down is reported once a day. None
    for a failed ``error`` or ``test`` delivery."""
    if event in (EventName.ERROR.value, EventName.TEST.value):
        return None
    name = target_name or target_id
    return Event(EventName.ERROR, owner, f"Notification target failing: {name}",
                 f"a {event} notification to {name} failed {attempts} time(s) and was given up: "
                 f"{(error or 'unknown error')[:500]}", "error",
                 {"condition": "target_failing", "target_id": target_id, "target_name": target_name,
                  "event": event, "attempts": attempts, "error": (error or "")[:1000]},
                 key=f"target-failing:{target_id}:{now_ms // DAY_MS}")
