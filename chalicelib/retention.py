"""History retention: finished downloads are deleted ``history_retention_days`` after they finished.

A task that becomes completed, failed or cancelled gets :func:`finished_marks` in the same
write: ``expires`` (the tasks table's TTL attribute, epoch seconds) and ``sweep = "1"`` (the
key of the sparse by-expiry index). DynamoDB's TTL deletes expired tasks in AWS, within a day
or two; the reconciler's sweep (chalicelib/reconciler.py, every minute) deletes them on time
everywhere, the local runtime included, with their part records. Either way the table's
stream shows a REMOVE. Stored files are never touched: the object in S3 stays until its
download is deleted with ``delete_file=true`` or the bucket's own lifecycle removes it.
A retried task loses the marks (:func:`cleared_marks`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pynamodb.expressions.update import Action

from .persistence.models import TaskModel
from .settings import EngineSettings

SWEEP = "1"


def expiry(settings: EngineSettings, now_ms: int) -> datetime | None:
    """When a task finished at ``now_ms`` leaves the history (None: it is kept)."""
    days = settings.history_retention_days
    if days <= 0:
        return None
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC) + timedelta(days=days)


def finished_marks(settings: EngineSettings, now_ms: int) -> list[Action]:
    """The update actions that mark a task finishing now for deletion (none when kept)."""
    when = expiry(settings, now_ms)
    if when is None:
        return [TaskModel.expires.remove(), TaskModel.sweep.remove()]
    return [TaskModel.expires.set(when), TaskModel.sweep.set(SWEEP)]


def cleared_marks() -> list[Action]:
    """The update actions that keep a task that is no longer finished (a retry)."""
    return [TaskModel.expires.remove(), TaskModel.sweep.remove()]
