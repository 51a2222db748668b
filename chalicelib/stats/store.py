"""Statistics and batch summaries: counters kept from the tasks table's stream, never a Scan.

:meth:`StatsStore.apply` turns a batch of stream records into counter deltas
(chalicelib/domain/aggregates.py), coalesced to one UpdateItem ``ADD`` per (scope, key) and
per batch: a hundred records of one user cost about ten writes. The readers are GetItems and
Queries on the stats table's key (``BETWEEN`` for a timeline, ``begins_with`` for a
breakdown).

Storage (chalicelib/persistence/stats.py ``DynamoCounters``, behind :class:`Counters`): each
counter is a top-level number attribute (``n_<counter>`` on a stats item,
``s_<state>`` / ``items`` / ``sized`` / ``total_bytes`` / ``done_bytes`` on a batch item), so
one ``ADD`` creates the item and the counter when they are missing (DynamoDB cannot ``ADD``
into a map that does not exist yet).

Retries and double counting: Lambda retries a stream batch whose handler raised (or timed
out) with the same records, and ``ADD`` is not idempotent. So every write carries the batch's
token (the time of its first record and a digest of its records' sequence numbers, the same
on every try of the batch) and is conditional on the item not having it yet: it adds the
token to the item's ``applied`` set in the same UpdateItem. A write that landed before the
failure is refused on the retry (and skipped), the others land: the counters are exact
whatever write the consumer failed or died at, with no extra write and no transaction. The
set keeps the ``KEEP`` newest tokens (trimmed by a separate idempotent ``DELETE`` once it
holds twice as many), so a retry stays exact while fewer than ``KEEP`` other batches wrote
the same item in between; a shard retries a batch before it reads on, so only other shards'
batches can (a table has a handful). Bisecting a failed batch (BisectBatchOnFunctionError,
not configured for this consumer) would give its halves new tokens: keep it off.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from boto3.dynamodb.types import TypeDeserializer

from ..domain import aggregates as agg
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.states import TaskState
from ..domain.task import Task, iso

log = logging.getLogger("haul.stats")
_deserializer = TypeDeserializer()
_pool = ThreadPoolExecutor(8, thread_name_prefix="stats")
# List totals read the gauge at most this often per process (StatsStore.recent_gauge).
GAUGE_MAX_AGE = 1.0
BATCH_STATE_PREFIX = "s_"
COUNTER_PREFIX = "n_"
_BATCH_COUNTERS = ("items", "sized", "total_bytes", "done_bytes")


def plain(value: Any) -> Any:
    """A deserialized DynamoDB value with Decimals as int (or float) and sets as lists."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, frozenset, tuple)):
        return [plain(v) for v in value]
    return value


def image(raw: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stream record's (or a low-level API's) item image as a plain dict."""
    if not raw:
        return None
    return {k: plain(_deserializer.deserialize(v)) for k, v in raw.items()}


def change_of(
    record: Mapping[str, Any], now_ms: int
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, int] | None:
    """(old image, new image, record time in ms) of a Lambda-shaped stream record (``now_ms``
    when it carries no time)."""
    data = record.get("dynamodb") or {}
    event = record.get("eventName")
    old = image(data.get("OldImage")) if event != "INSERT" else None
    new = image(data.get("NewImage")) if event != "REMOVE" else None
    if event not in ("INSERT", "MODIFY", "REMOVE") or (old is None and new is None):
        return None
    created = data.get("ApproximateCreationDateTime")
    at = int(float(created) * 1000) if isinstance(created, (int, float, Decimal)) else now_ms
    return old, new, at


def counters(item: Mapping[str, Any] | None, prefix: str = COUNTER_PREFIX) -> dict[str, int]:
    """The counters of a plain stats item, without their attribute prefix."""
    out: dict[str, int] = {}
    for name, value in (item or {}).items():
        if name.startswith(prefix) and isinstance(value, (int, float)):
            out[name[len(prefix):]] = int(value)
    return out


@dataclass(frozen=True)
class ApplyReport:
    records: int
    changes: int
    writes: int
    skipped: int  # refused: applied by an earlier try of the batch, or into a batch item that is gone


class Counters(Protocol):
    """The counters and batch summaries as stored (chalicelib/persistence/stats.py ``DynamoCounters``)."""

    def add(self, deltas: agg.Deltas, token: str) -> tuple[int, int]:
        """Add the deltas of one stream batch, each item's at most once per ``token`` (the same
        on every try of the batch); a batch's deltas only into its item when that exists and is
        the delta's owner's. (writes made, writes refused). Raises when a write fails otherwise."""
        ...

    def item(self, scope: str, key: str) -> dict[str, Any]:
        """One stats item, plain (``n_<counter>`` numbers, ``name``); empty when there is none."""
        ...

    def between(self, scope: str, low: str, high: str) -> list[dict[str, Any]]:
        """The scope's items (with their ``key``) whose key is between ``low`` and ``high``, in key order."""
        ...

    def prefixed(self, scope: str, prefix: str) -> list[dict[str, Any]]:
        """The scope's items (with their ``key``) whose key begins with ``prefix``, in key order."""
        ...


class RunningTasks(Protocol):
    """The downloads running now (the task store)."""

    def ids_in_state(self, state: TaskState, limit: int | None = None) -> list[str]: ...
    def get(self, task_id: str) -> Task | None: ...
    def in_state_of(self, owner: str, state: TaskState) -> list[Task]: ...


class StatsStore:
    def __init__(self, counters: Counters, tasks: RunningTasks, clock: Clock = SYSTEM_CLOCK) -> None:
        """Every collaborator is passed in (chalicelib/container.py builds them)."""
        self.counters = counters
        self._repo = tasks
        self._clock = clock
        self._lock = threading.Lock()
        self._gauges: dict[str, tuple[float, dict[str, int]]] = {}

    # -- writing: the stream handler ---------------------------------------------------------
    def apply(self, records: Iterable[Mapping[str, Any]]) -> ApplyReport:
        """Apply a batch of stream records (Lambda-shaped) to the counters, in order."""
        records = list(records)
        changes = []
        now = self._clock.now_ms()
        for record in records:
            try:
                change = change_of(record, now)
            except Exception:  # a record we cannot read must not block its shard
                log.exception("stats: skipping unreadable stream record %s", record.get("eventID"))
                continue
            if change is not None:
                changes.append(change)
        deltas = agg.deltas(changes)
        done, skipped = self.counters.add(deltas, batch_token(records))
        return ApplyReport(len(records), deltas.changes, done, skipped)

    # -- reading -----------------------------------------------------------------------------
    def _range(self, scope: str, low: str, high: str) -> dict[str, dict[str, int]]:
        return {str(i["key"]): counters(i) for i in self.counters.between(scope, low, high)}

    def gauge(self, scope: str) -> dict[str, int]:
        return counters(self.counters.item(scope, agg.GAUGE))

    def recent_gauge(self, scope: str) -> dict[str, int]:
        """:meth:`gauge` as read at most ``GAUGE_MAX_AGE`` seconds ago by this process.

        For list totals (``X-Total-Count``), read on every page: someone paging through a list
        asks several times a second, and the counters trail the tasks by the stream's lag
        anyway, so one read a second is as current and spares a read on most pages."""
        now = self._clock.monotonic()
        with self._lock:
            known = self._gauges.get(scope)
        if known is not None and now - known[0] < GAUGE_MAX_AGE:
            return dict(known[1])
        found = self.gauge(scope)
        with self._lock:
            self._gauges[scope] = (now, found)
            if len(self._gauges) > 4096:  # one per owner who lists; forget the oldest
                del self._gauges[next(iter(self._gauges))]
        return dict(found)

    def state_counts(self, scope: str) -> dict[str, int]:
        """Tasks per state in ``scope`` now: every state, never negative."""
        return agg.state_counts(self.gauge(scope))

    def total_speed(self, scope: str) -> int:
        """Bytes per second of the downloads running now (at most max_concurrent_downloads)."""
        if scope.startswith("u#"):
            tasks = self._repo.in_state_of(scope[2:], TaskState.DOWNLOADING)
        else:
            ids = self._repo.ids_in_state(TaskState.DOWNLOADING)
            tasks = [t for t in _pool.map(self._repo.get, ids) if t is not None]
        return sum(t.speed for t in tasks)

    def engine(self, scope: str) -> dict[str, Any]:
        gauge = self.gauge(scope)
        by_state = agg.state_counts(gauge)
        speed = self.total_speed(scope)
        remaining = max(0, gauge.get("active_size", 0) - gauge.get("active_done", 0))
        return {
            "scope": scope,
            "active": by_state[TaskState.DOWNLOADING.value],
            "queued": by_state[TaskState.QUEUED.value],
            "paused": by_state[TaskState.PAUSED.value],
            "completed": by_state[TaskState.COMPLETED.value],
            "failed": by_state[TaskState.FAILED.value],
            "cancelled": by_state[TaskState.CANCELLED.value],
            "total": sum(by_state.values()),
            "by_state": by_state,
            "total_speed": speed,
            "total_bytes": max(0, gauge.get("size", 0)),
            "downloaded_bytes": max(0, gauge.get("done", 0)),
            "remaining_bytes": remaining,
            "eta": _eta(remaining, speed),
        }

    def queue_statistics(self, scope: str) -> dict[str, Any]:
        """The queue's figures (GET /queue embeds them)."""
        e = self.engine(scope)
        return {
            "pending_count": e["queued"],
            "active_count": e["active"],
            "paused_count": e["paused"],
            "completed_count": e["completed"],
            "failed_count": e["failed"],
            "total_items": e["total"],
            "total_bytes": e["total_bytes"],
            "downloaded_bytes": e["downloaded_bytes"],
            "average_speed": e["total_speed"],
            "estimated_time_remaining": e["eta"],
        }

    def overview(self, scope: str, now: datetime) -> dict[str, Any]:
        starts = agg.period_starts(now)
        first = min(starts["this_week"], starts["this_month"])
        days = self._range(scope, agg.bucket_key("day", first), agg.bucket_key("day", starts["today"]))
        total = counters(self.counters.item(scope, agg.TOTAL))
        gauge = self.gauge(scope)

        def period(counter: str) -> dict[str, int]:
            out = {}
            for name, start in starts.items():
                low = agg.bucket_key("day", start)
                out[name] = sum(c.get(counter, 0) for k, c in days.items() if k >= low)
            out["total"] = total.get(counter, 0)
            return out

        completed, failed = total.get("completed", 0), total.get("failed", 0)
        return {
            "scope": scope,
            "downloads": period("added"),
            "completed": period("completed"),
            "failed": period("failed"),
            "bytes": period("bytes"),
            "success_rate": agg.success_rate(completed, failed),
            "bytes_stored": max(0, gauge.get("stored", 0)),
            "by_state": agg.state_counts(gauge),
        }

    def timeline(self, scope: str, group: str, since: datetime, until: datetime) -> dict[str, Any]:
        starts = agg.buckets(group, since, until)
        found = self._range(scope, agg.bucket_key(group, starts[0]), agg.bucket_key(group, starts[-1]))
        out = []
        for start in starts:
            counts = found.get(agg.bucket_key(group, start), {})
            out.append({"start": iso(int(start.timestamp() * 1000)),
                        **{c: counts.get(c, 0) for c in agg.HISTORY_COUNTERS}})
        return {"scope": scope, "group": group, "since": iso(int(starts[0].timestamp() * 1000)),
                "until": iso(int((starts[-1] + _step(group)).timestamp() * 1000)), "buckets": out}

    def breakdown(self, scope: str, by: str, limit: int) -> dict[str, Any]:
        prefix = f"{by}#"
        items = self.counters.prefixed(scope, prefix)
        rows = []
        for item in items:
            key = str(item["key"])[len(prefix):]
            counts = counters(item)
            row: dict[str, Any] = {"key": key, "name": str(item.get("name") or key)}
            row.update({c: max(0, counts.get(c, 0)) for c in agg.HISTORY_COUNTERS})
            rows.append(row)
        rows.sort(key=lambda r: (-int(r["added"]), str(r["key"])))
        return {"scope": scope, "by": by, "items": rows[:limit]}


def _step(group: str) -> timedelta:
    return timedelta(hours=1) if group == "hour" else timedelta(days=1)


def _eta(remaining: int, speed: int) -> int | None:
    if speed <= 0:
        return None
    return -(-remaining // speed)


def batch_token(records: list[Mapping[str, Any]]) -> str:
    """The same on every try of a batch: its first record's time (so tokens sort about as their
    batches came) and a digest of its records' sequence numbers (event ids where none)."""
    digest = hashlib.sha256()
    for record in records:
        seq = (record.get("dynamodb") or {}).get("SequenceNumber") or record.get("eventID") or ""
        digest.update(f"{seq};".encode())
    created = (records[0].get("dynamodb") or {}).get("ApproximateCreationDateTime") if records else None
    at = int(float(created) * 1000) if isinstance(created, (int, float, Decimal)) else 0
    return f"{at:013d}.{digest.hexdigest()[:24]}"


def utc_now() -> datetime:
    return datetime.now(tz=UTC)
