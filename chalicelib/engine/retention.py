"""History retention: finished downloads are deleted ``history_retention_days`` after they finished.

A task that becomes completed, failed or cancelled gets its marks in the same write
(:func:`expiry`, written by chalicelib/persistence/tasks.py): ``expires`` (the tasks table's
TTL attribute, epoch seconds) and ``sweep = "1"`` (the key of the sparse by-expiry index). DynamoDB's TTL deletes
expired tasks in AWS, within a day
or two; the reconciler's sweep (chalicelib/engine/reconciler.py, every minute) deletes them on time
everywhere, the local runtime included, with their part records. Either way the table's
stream shows a REMOVE. Stored files are never touched: the object in S3 stays until its
download is deleted with ``delete_file=true`` or the bucket's own lifecycle removes it.
A retried task loses the marks.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..settings.store import EngineSettings

SWEEP = "1"


def expiry(settings: EngineSettings, now_ms: int) -> datetime | None:
    """When a task finished at ``now_ms`` leaves the history (None: it is kept)."""
    days = settings.history_retention_days
    if days <= 0:
        return None
    return datetime.fromtimestamp(now_ms / 1000, tz=UTC) + timedelta(days=days)
