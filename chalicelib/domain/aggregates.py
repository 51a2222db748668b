"""Statistics as counters: what one change of one task adds to (or takes from) each counter.

The tasks table's stream hands every change of a task as its image before and after (plain
dicts here). From one change this module derives counter deltas, with no I/O:

- gauges (key ``gauge``): what the tasks that exist *now* add up to. A task contributes one to
  its state's counter and its bytes to the byte counters; a change's delta is what the task
  contributes after it minus what it contributed before, so INSERT, MODIFY and REMOVE are one
  rule and a deleted (or expired) task takes exactly its share away.
- history (``total``, ``day#YYYY-MM-DD``, ``hour#YYYY-MM-DDTHH`` in UTC, and the breakdowns
  ``host#``, ``batch#``, ``category#``, ``tag#``): events, counted once and never taken back.
  ``added`` on INSERT (a retry, failed -> queued, is not a new download); ``completed``,
  ``failed``, ``cancelled`` on a transition *into* that state; ``bytes`` (the task's size) and
  ``download_ms`` (finished - started) on completion. REMOVE changes no history: the
  downloads of today survive clearing the finished ones from the list.
- batch summaries: the batch's tasks per state, the bytes known and the bytes stored, as
  gauges of the batch's tasks.

Every counter of a scope lives in one of two scopes at once: ``all`` and ``u#<owner>``.
:class:`Deltas` coalesces many changes into one delta per (scope, key): a stream batch of a
hundred records costs a handful of writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .states import ACTIVE, FINISHED, TaskState

ALL = "all"
GAUGE = "gauge"
TOTAL = "total"
HISTORY_COUNTERS = ("added", "completed", "failed", "cancelled", "bytes")
BREAKDOWNS = ("batch", "category", "tag", "host")
# How long hour buckets are kept (the timeline shows at most 31 days of hours).
HOUR_BUCKET_DAYS = 40

Image = Mapping[str, Any]


def user_scope(owner: str) -> str:
    return f"u#{owner}"


def day_key(ms: int) -> str:
    return "day#" + _utc(ms).strftime("%Y-%m-%d")


def hour_key(ms: int) -> str:
    return "hour#" + _utc(ms).strftime("%Y-%m-%dT%H")


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _int(value: Any, default: int = 0) -> int:
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _state(image: Image | None) -> TaskState | None:
    if not image:
        return None
    try:
        return TaskState(str(image.get("state")))
    except ValueError:
        return None


def downloaded(image: Image) -> int:
    """Bytes of the task stored so far (as Task.downloaded: recorded parts plus, while it
    downloads, the lanes' bytes in flight; all of it once completed)."""
    size = image.get("size")
    state = _state(image)
    if state == TaskState.COMPLETED and size is not None:
        return _int(size)
    done = _int(image.get("bytes_done"))
    if state == TaskState.DOWNLOADING:
        lanes = image.get("lane_bytes") or {}
        done += sum(_int(v) for v in lanes.values()) if isinstance(lanes, Mapping) else 0
    return min(done, _int(size)) if size is not None else done


def gauge_contribution(image: Image | None) -> dict[str, int]:
    """What one task adds to its scopes' gauges: one to its state, and its bytes."""
    state = _state(image)
    if image is None or state is None:
        return {}
    size = image.get("size")
    known = _int(size)
    done = downloaded(image)
    active = state in ACTIVE
    return {
        state.value: 1,
        "size": known,
        "done": done,
        "active_size": known if active else 0,
        "active_done": done if active and size is not None else 0,
        "stored": done if state == TaskState.COMPLETED else 0,
    }


def batch_contribution(image: Image | None) -> dict[str, int]:
    """What one task adds to its batch's summary."""
    state = _state(image)
    if image is None or state is None or not image.get("batch_id"):
        return {}
    size = image.get("size")
    return {
        f"state:{state.value}": 1,
        "items": 1,
        "sized": 1 if size is not None else 0,
        "total_bytes": _int(size),
        "done_bytes": downloaded(image),
    }


def _difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    out = {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
    return {k: v for k, v in out.items() if v}


def history_events(old: Image | None, new: Image | None, at_ms: int) -> list[tuple[int, dict[str, int]]]:
    """The events a change is: (when, counters) pairs. Empty for a REMOVE."""
    if new is None:
        return []
    events: list[tuple[int, dict[str, int]]] = []
    if old is None:
        events.append((_int(new.get("created_at"), at_ms) or at_ms, {"added": 1}))
    before, after = _state(old), _state(new)
    if after in FINISHED and after != before:
        when = _int(new.get("finished_at")) or _int(new.get("updated_at")) or at_ms
        counts = {after.value: 1}
        if after == TaskState.COMPLETED:
            counts["bytes"] = _int(new.get("size")) or downloaded(new)
            started, finished = _int(new.get("started_at")), _int(new.get("finished_at"))
            if started and finished >= started:
                counts["download_ms"] = finished - started
        events.append((when, counts))
    return events


def breakdown_keys(image: Image) -> list[str]:
    keys = []
    if image.get("host"):
        keys.append(f"host#{image['host']}")
    if image.get("batch_id"):
        keys.append(f"batch#{image['batch_id']}")
    if image.get("category"):
        keys.append(f"category#{image['category']}")
    for tag in dict.fromkeys(image.get("tags") or []):
        if tag:
            keys.append(f"tag#{tag}")
    return keys


@dataclass
class BatchDelta:
    """The change to one batch's summary from its owner's tasks. The batch's item is made by
    the add, with its owner; these deltas only count into it."""

    owner: str
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Deltas:
    """Counter deltas of many changes, one entry per (scope, key) and per batch."""

    counters: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    # A breakdown item's display name (a batch's name).
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    # (batch id, owner) -> delta: a task counts only in a batch of its own owner's.
    batches: dict[tuple[str, str], BatchDelta] = field(default_factory=dict)
    changes: int = 0

    def add(self, scope: str, key: str, counts: Mapping[str, int]) -> None:
        target = self.counters.setdefault((scope, key), {})
        for name, value in counts.items():
            if value:
                target[name] = target.get(name, 0) + value

    def change(self, old: Image | None, new: Image | None, at_ms: int) -> None:
        """Add one change of a task: its image before (None: it was created) and after
        (None: it was removed)."""
        image = new if new is not None else old
        if image is None or not image.get("owner"):
            return
        self.changes += 1
        scopes = (ALL, user_scope(str(image["owner"])))
        gauge = _difference(gauge_contribution(new), gauge_contribution(old))
        for scope in scopes:
            self.add(scope, GAUGE, gauge)
        if new is not None:
            for when, counts in history_events(old, new, at_ms):
                history = {k: v for k, v in counts.items()}
                breakdown = {k: v for k, v in counts.items() if k in HISTORY_COUNTERS}
                for scope in scopes:
                    self.add(scope, TOTAL, history)
                    self.add(scope, day_key(when), history)
                    self.add(scope, hour_key(when), history)
                    for key in breakdown_keys(new):
                        self.add(scope, key, breakdown)
                        if key.startswith("batch#") and new.get("batch_name"):
                            self.names[(scope, key)] = str(new["batch_name"])
        self._batch(old, new)

    def _batch(self, old: Image | None, new: Image | None) -> None:
        before, after = _batch_key(old), _batch_key(new)
        if before == after:
            if after:
                diff = _difference(batch_contribution(new), batch_contribution(old))
                self._add_batch(after, diff)
            return
        if before:
            self._add_batch(before, {k: -v for k, v in batch_contribution(old).items()})
        if after:
            self._add_batch(after, batch_contribution(new))

    def _add_batch(self, key: tuple[str, str], counts: Mapping[str, int]) -> None:
        target = self.batches.setdefault(key, BatchDelta(owner=key[1])).counts
        for name, value in counts.items():
            if value:
                target[name] = target.get(name, 0) + value

    def compact(self) -> Deltas:
        """Without the entries whose deltas cancelled out."""
        self.counters = {k: {n: v for n, v in c.items() if v} for k, c in self.counters.items()}
        self.counters = {k: c for k, c in self.counters.items() if c}
        for batch in self.batches.values():
            batch.counts = {n: v for n, v in batch.counts.items() if v}
        self.batches = {k: b for k, b in self.batches.items() if b.counts}
        return self


def _batch_key(image: Image | None) -> tuple[str, str] | None:
    if image is None or not image.get("batch_id"):
        return None
    return str(image["batch_id"]), str(image.get("owner") or "")


def deltas(changes: Iterable[tuple[Image | None, Image | None, int]]) -> Deltas:
    """The coalesced deltas of (old image, new image, record time ms) changes, in order."""
    out = Deltas()
    for old, new, at in changes:
        out.change(old, new, at)
    return out.compact()


# -- reading the counters back ---------------------------------------------------------------


def state_counts(gauge: Mapping[str, Any]) -> dict[str, int]:
    """Tasks per state from a gauge item's counters: every state, never negative."""
    return {s.value: max(0, _int(gauge.get(s.value))) for s in TaskState}


def batch_state(states: Mapping[str, int]) -> str:
    """A batch's state from its tasks per state."""
    count = {s: max(0, _int(states.get(s.value))) for s in TaskState}
    total = sum(count.values())
    if total == 0:
        return "empty"
    for state in (TaskState.DOWNLOADING, TaskState.QUEUED, TaskState.PAUSED):
        if count[state]:
            return state.value
    if count[TaskState.COMPLETED] == total:
        return "completed"
    if count[TaskState.FAILED]:
        return "failed"
    return "cancelled"


def batch_progress(states: Mapping[str, int], sized: int, total_bytes: int, done_bytes: int) -> float:
    """Percent of bytes when every task's size is known, else percent of items completed."""
    items = sum(max(0, _int(states.get(s.value))) for s in TaskState)
    if items == 0:
        return 0.0
    if sized >= items and total_bytes > 0:
        return round(min(100.0, 100.0 * max(0, done_bytes) / total_bytes), 2)
    return round(100.0 * max(0, _int(states.get(TaskState.COMPLETED.value))) / items, 2)


def success_rate(completed: int, failed: int) -> float | None:
    if completed + failed <= 0:
        return None
    return round(completed / (completed + failed), 4)


def period_starts(now: datetime) -> dict[str, datetime]:
    """Where today, this week (from Monday) and this month began, in UTC."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return {
        "today": today,
        "this_week": today - timedelta(days=today.weekday()),
        "this_month": today.replace(day=1),
    }


def bucket_start(group: str, at: datetime) -> datetime:
    at = at.astimezone(UTC)
    if group == "hour":
        return at.replace(minute=0, second=0, microsecond=0)
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def bucket_key(group: str, start: datetime) -> str:
    return f"{group}#" + start.strftime("%Y-%m-%dT%H" if group == "hour" else "%Y-%m-%d")


def buckets(group: str, since: datetime, until: datetime) -> list[datetime]:
    """The starts of the ``group`` buckets from the one holding ``since`` to the one holding
    ``until``, oldest first."""
    step = timedelta(hours=1) if group == "hour" else timedelta(days=1)
    at, end = bucket_start(group, since), bucket_start(group, until)
    out = []
    while at <= end:
        out.append(at)
        at += step
    return out
