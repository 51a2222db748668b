"""The activity log: every state transition and every user action, with who, what and when.

User actions are recorded by the service that performs them (:meth:`ActivityLog.record`);
state transitions are read from the tasks table's stream (:meth:`ActivityLog.handle_changes`).
Entries expire after the ``activity_retention_days`` setting (the table's TTL attribute;
expired entries that DynamoDB has not deleted yet are skipped on read). Recording never fails
the action it records: a lost log line is better than a lost download.

Where entries live (chalicelib/persistence/models.py ActivityModel, read and written by
chalicelib/persistence/activity.py ``DynamoActivity`` behind :class:`ActivityEntries`):
partition ``u#<owner>`` (``system`` for the engine's own), sort key ``<ms:013d>#<8 hex>``; the
by-task index (task id, sk) and the by-day index (UTC day, sk) for an admin's view of everyone. Reading (:meth:`query`):

- a user reads their partition (newest first), a time range is a key condition on sk;
- ``task_id`` reads the by-task index (a user's filtered to their partition);
- an admin without ``owner`` reads the by-day index, day by day from the newest day of the
  range (by default the last 7 days);
- level (a minimum), kind (exact, or a dotted prefix: ``task`` matches ``task.state``) and
  batch are a FilterExpression; ``q`` (case-insensitive, on message, kind and actor) and the
  expiry are checked on the items read.

Stream entries are deterministic per stream record (sk from the change's time and a hash of
the record's eventID), so a retried batch overwrites its entries instead of doubling them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import Field, field_validator

from ..api.errors import Forbidden, NotFound
from ..api.schemas import Instant, _Strict
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.task import iso
from ..domain.urls import redact, redact_data
from ..persistence import cursors
from ..settings.store import EngineSettings

log = logging.getLogger("haul.activity")
LEVELS = ("debug", "info", "warning", "error")
SYSTEM = "system"
ENGINE = "engine"
DEFAULT_DAYS = 7  # an admin's default range across every owner
MAX_RANGE_DAYS = 400  # an admin's by-day walk reads at most this many days
EXPORT_MAX_ENTRIES = 10_000
EXPORT_MAX_BYTES = 5 * 1024 * 1024  # Lambda answers at most 6 MB (SPEC §4)
CSV_FIELDS = ("id", "at", "level", "kind", "actor", "owner", "task_id", "batch_id", "message", "data")
# States a user's action moves a task to; the engine's own transitions go to the others.
_USER_TARGETS = {"queued", "paused", "cancelled"}
BAD_CURSOR = "is not a cursor this API issued for this list"


def scope_of(owner: str | None) -> str:
    """The log partition of an owner's entries (``system`` for the engine's own)."""
    return f"u#{owner}" if owner else SYSTEM


def owner_of(scope: str) -> str | None:
    return scope[2:] if scope.startswith("u#") else None


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


class BadCursor(ValueError):
    pass


# -- queries -----------------------------------------------------------------------------


class ActivityQuery(_Strict):
    level: Literal["debug", "info", "warning", "error"] | None = Field(
        default=None, description="the least level: debug < info < warning < error")
    kind: str | None = Field(default=None, min_length=1, max_length=64,
                             description="exact, or a dotted prefix (task matches task.state)")
    task_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    batch_id: str | None = Field(default=None, min_length=1, max_length=64)
    since: Instant = None
    until: Instant = None
    q: str | None = Field(default=None, min_length=1, max_length=200, description="text in message, kind or actor")
    owner: str | None = Field(default=None, min_length=1, max_length=64, description="admins: one user's entries")
    page: int = Field(default=1, ge=1, le=10_000)
    per_page: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)

    @field_validator("until")
    @classmethod
    def _range(cls, value: int | None, info: Any) -> int | None:
        start = info.data.get("since")
        if value is not None and start is not None and value < start:
            raise ValueError("must not be before since")
        return value


class ActivityExportQuery(ActivityQuery):
    format: Literal["jsonl", "csv"] = "jsonl"


class ClearActivityQuery(_Strict):
    older_than_days: int = Field(ge=1, le=3650)


# -- plans -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogPlan:
    index: str | None  # None: the table (pk); "by-task"; "by-day"
    partitions: tuple[str, ...]
    sk_range: tuple[str, str] | None
    levels: tuple[str, ...] | None
    kind: str | None
    batch_id: str | None
    scope: str | None  # only this partition (a user's by-task read)
    text: str | None

    @property
    def signature(self) -> str:
        raw = json.dumps([self.index, self.partitions, self.sk_range, self.levels, self.kind, self.batch_id,
                          self.scope, self.text])
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    @property
    def key_names(self) -> tuple[str, ...]:
        return {None: ("pk", "sk"), "by-task": ("pk", "sk", "task_id"), "by-day": ("pk", "sk", "day")}[self.index]

    @property
    def hash_name(self) -> str:
        return {None: "pk", "by-task": "task_id", "by-day": "day"}[self.index]


def days_between(since: int, until: int) -> list[str]:
    """UTC days from ``until``'s back to ``since``'s, newest first."""
    out: list[str] = []
    day = datetime.fromtimestamp(until / 1000, tz=UTC).date()
    first = datetime.fromtimestamp(since / 1000, tz=UTC).date()
    while day >= first and len(out) < MAX_RANGE_DAYS:
        out.append(day.isoformat())
        day -= timedelta(days=1)
    return out


def plan_query(q: ActivityQuery, user_id: str, is_admin: bool, now: int) -> LogPlan:
    """Where ``q`` reads, for this caller. Pure. PermissionError for another user's log."""
    if q.owner is not None and q.owner != user_id and not is_admin:
        raise PermissionError("only an admin reads other users' activity")
    owner = q.owner if q.owner is not None else (None if is_admin else user_id)
    sk_range = None
    if q.since is not None or q.until is not None:
        sk_range = (f"{q.since or 0:013d}", f"{q.until:013d}#~" if q.until is not None else "9999999999999#~")
    levels = tuple(LEVELS[LEVELS.index(q.level):]) if q.level and q.level != "debug" else None
    text = q.q.lower() if q.q else None
    if q.task_id is not None:
        return LogPlan("by-task", (q.task_id,), sk_range, levels, q.kind, q.batch_id,
                       scope_of(owner) if owner else None, text)
    if owner is not None:
        return LogPlan(None, (scope_of(owner),), sk_range, levels, q.kind, q.batch_id, None, text)
    until = q.until if q.until is not None else now
    since = q.since if q.since is not None else until - (DEFAULT_DAYS - 1) * 86_400_000
    # Without ``since``, the last 7 days: the day partitions are the range.
    return LogPlan("by-day", tuple(days_between(since, until)), sk_range, levels, q.kind, q.batch_id, None, text)


def _keeps(p: LogPlan, item: ActivityEntry, now: int) -> bool:
    if item.expires is not None and item.expires.timestamp() * 1000 < now:
        return False
    if p.text:
        hay = f"{item.message}\n{item.kind}\n{item.actor}".lower()
        if p.text not in hay:
            return False
    return True


def entry_view(item: ActivityEntry) -> dict[str, Any]:
    return {
        "id": f"{item.pk}/{item.sk}",
        "at": iso(int(item.at)),
        "level": item.level,
        "kind": item.kind,
        "actor": item.actor,
        "owner": owner_of(item.pk),
        "task_id": item.task_id,
        "batch_id": item.batch_id,
        "message": item.message,
        "data": item.data,
    }


def _encode(p: LogPlan, segment: int, key: dict[str, Any], total: int | None) -> str:
    return cursors.pack_position(p.signature, segment, key, total)


def _decode(cursor: str, p: LogPlan) -> tuple[int, dict[str, Any], int | None]:
    try:
        segment, key, total = cursors.unpack_position(cursor, p.signature, len(p.partitions))
    except ValueError:
        raise BadCursor(BAD_CURSOR) from None
    ok = (
        isinstance(key, dict) and set(key) == set(p.key_names)
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) and 0 < len(v["S"]) <= 256
                for v in key.values())
    )
    if not ok or key[p.hash_name]["S"] != p.partitions[segment]:
        raise BadCursor(BAD_CURSOR)
    return segment, key, total


@dataclass(frozen=True)
class ActivityEntry:
    """One stored entry; ``pk`` is its partition (``u#<owner>`` or ``system``), ``sk``
    ``<ms:013d>#<8 hex>``, ``day`` its UTC day, ``expires`` when the table's TTL removes it."""

    pk: str
    sk: str
    at: int
    day: str
    level: str
    kind: str
    actor: str
    message: str
    task_id: str | None = None
    batch_id: str | None = None
    data: Any = None  # a JSON object (or None)
    expires: datetime | None = None


class ActivityEntries(Protocol):
    """The stored entries (chalicelib/persistence/activity.py ``DynamoActivity``)."""

    def add(self, entry: ActivityEntry) -> None: ...

    def add_many(self, entries: Iterable[ActivityEntry]) -> None:
        """Store entries; one with the key of a stored entry replaces it."""
        ...

    def read(self, p: LogPlan, segment: int, start: dict[str, Any] | None, page_size: int,
             now: int) -> Iterator[ActivityEntry]:
        """Partition ``p.partitions[segment]`` newest first, after the position ``start`` (the
        key attributes ``p.key_names`` of the last entry read, DynamoDB-shaped): the entries in
        the plan's sk range, of its levels, kind, batch and scope, not expired at ``now``."""
        ...

    def count(self, p: LogPlan, now: int) -> int:
        """How many entries :meth:`read` gives over every partition of ``p`` (the text not checked)."""
        ...

    def delete_before(self, scope: str, before_sk: str) -> int:
        """Delete the entries of partition ``scope`` whose sk sorts before ``before_sk``; how many."""
        ...

    def delete_days_before(self, days: Sequence[str], before_sk: str) -> int:
        """Delete the entries of every partition on those UTC days whose sk sorts before ``before_sk``."""
        ...


class TaskOwners(Protocol):
    """Whose downloads these are (the task store's ``owners_of``; a missing one is left out)."""

    def owners_of(self, task_ids: Sequence[str]) -> dict[str, str]: ...


class RetentionSettings(Protocol):
    def get(self) -> EngineSettings: ...


@dataclass(frozen=True)
class LogPage:
    entries: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    next_cursor: str | None


# -- the log -----------------------------------------------------------------------------


class ActivityLog:
    def __init__(
        self, settings: RetentionSettings, entries: ActivityEntries, tasks: TaskOwners, clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """Every collaborator is passed in (chalicelib/container.py builds them)."""
        self._settings = settings
        self._entries = entries
        self._tasks = tasks
        self._clock = clock

    def _expires(self, at: int) -> datetime:
        try:
            days = self._settings.get().activity_retention_days
        except Exception:  # noqa: BLE001 - the default retention
            days = 30
        return datetime.fromtimestamp(at / 1000 + days * 86400, tz=UTC)

    def record(
        self,
        *,
        owner: str | None,
        actor: str,
        kind: str,
        message: str,
        level: str = "info",
        task_id: str | None = None,
        batch_id: str | None = None,
        data: dict[str, Any] | None = None,
        at: int | None = None,
    ) -> None:
        """Add one entry. ``owner``: whose download or setting it concerns (None: the engine's);
        ``actor``: who did it (a username, or ``engine``); ``kind``: e.g. ``task.pause``."""
        at = self._clock.now_ms() if at is None else at
        try:
            self._entries.add(self._entry(owner, f"{at:013d}#{secrets.token_hex(4)}", at, actor, kind, message, level,
                                          task_id, batch_id, data))
        except Exception:  # the log must never fail the action it records
            log.exception("could not record activity %s (%s)", kind, message[:200])

    def record_many(self, entries: list[dict[str, Any]]) -> None:
        """Add many entries (each the keyword arguments of :meth:`record`), 25 to a
        BatchWriteItem; like :meth:`record`, never fails the action it records."""
        try:
            self._entries.add_many(self._entry_of(e) for e in entries)
        except Exception:  # the log must never fail the action it records
            log.exception("could not record %d activity entries", len(entries))

    def _entry_of(self, e: dict[str, Any]) -> ActivityEntry:
        at = self._clock.now_ms() if e.get("at") is None else int(e["at"])
        return self._entry(
            e.get("owner"), f"{at:013d}#{secrets.token_hex(4)}", at, e["actor"], e["kind"], e["message"],
            e.get("level", "info"), e.get("task_id"), e.get("batch_id"), e.get("data"),
        )

    def _entry(
        self, owner: str | None, sk: str, at: int, actor: str, kind: str, message: str, level: str,
        task_id: str | None, batch_id: str | None, data: dict[str, Any] | None,
    ) -> ActivityEntry:
        return ActivityEntry(
            pk=scope_of(owner),
            sk=sk,
            at=at,
            day=day_of(at),
            level=level if level in LEVELS else "info",
            kind=kind[:64],
            actor=(actor or ENGINE)[:128],
            message=redact(message)[:2000],  # no URL credentials or query values
            task_id=task_id,
            batch_id=batch_id,
            data=redact_data(data) if data else data,
            expires=self._expires(at),
        )

    # -- transitions, from the tasks table's stream ------------------------------------------
    def handle_changes(self, records: Iterable[dict[str, Any]]) -> int:
        """Log the state changes and removals in a batch of stream records; how many entries.
        An entry's key comes from its record, so a retried batch writes the same entries."""
        entries = [e for r in records for e in [self._from_record(r)] if e is not None]
        if entries:
            self._entries.add_many(entries)
        return len(entries)

    def _from_record(self, record: dict[str, Any]) -> ActivityEntry | None:
        try:
            return transition_entry(record, self._entry)
        except Exception:  # one odd record must not stop the batch
            log.exception("activity: could not read stream record %s", record.get("eventID"))
            return None

    # -- reading -------------------------------------------------------------------------
    def _walk(self, p: LogPlan, start: tuple[int, dict[str, Any]] | None, page_size: int,
              now: int) -> Iterator[tuple[int, ActivityEntry]]:
        first = start[0] if start else 0
        for segment in range(first, len(p.partitions)):
            key = start[1] if start and segment == first else None
            for item in self._entries.read(p, segment, key, page_size, now):
                if _keeps(p, item, now):
                    yield segment, item

    def count(self, p: LogPlan, now: int) -> int:
        """Matching entries: COUNT Queries with the same key condition and filter (O(matching));
        reading the entries when the text or the expiry must be checked here."""
        if p.text:
            return sum(1 for _ in self._walk(p, None, 1000, now))
        return self._entries.count(p, now)

    def query(self, who: Any, q: ActivityQuery, now: int | None = None) -> LogPage:
        now = self._clock.now_ms() if now is None else now
        p = self._plan(who, q, now)
        start: tuple[int, dict[str, Any]] | None = None
        total: int | None = None
        if q.cursor:
            segment, key, total = _decode(q.cursor, p)
            start = (segment, key)
        if total is None:
            total = self.count(p, now)
        skip = 0 if start else (q.page - 1) * q.per_page
        got: list[tuple[int, ActivityEntry]] = []
        for pair in self._walk(p, start, min(max(q.per_page + 1 + skip, 100), 1000), now):
            if skip:
                skip -= 1
                continue
            got.append(pair)
            if len(got) > q.per_page:
                break
        page = got[: q.per_page]
        cursor = None
        if len(got) > q.per_page and page:
            segment, last = page[-1]
            key = {name: {"S": str(getattr(last, name))} for name in p.key_names}
            cursor = _encode(p, segment, key, total)
        return LogPage([entry_view(m) for _, m in page], total, q.page, q.per_page, cursor)

    def _plan(self, who: Any, q: ActivityQuery, now: int) -> LogPlan:

        try:
            p = plan_query(q, who.user_id, who.is_admin, now)
        except PermissionError as exc:
            raise Forbidden(str(exc)) from None
        if q.task_id is not None and not who.is_admin:
            # A task that exists and is someone else's is a 404, as elsewhere; a removed one's
            # entries in the caller's partition still show.
            owner = self._tasks.owners_of([q.task_id]).get(q.task_id)
            if owner is not None and owner != who.user_id:
                raise NotFound(f"no download with id {q.task_id}")
        return p

    def export(self, who: Any, q: ActivityExportQuery, now: int | None = None) -> tuple[bytes, int, bool]:
        """The entries (newest first) as JSON lines or CSV; (content, entries, truncated)."""
        now = self._clock.now_ms() if now is None else now
        p = self._plan(who, q, now)
        out, size, n, truncated = io.StringIO(), 0, 0, False
        writer = csv.writer(out) if q.format == "csv" else None
        if writer is not None:
            writer.writerow(CSV_FIELDS)
        for _, item in self._walk(p, None, 1000, now):
            if n >= EXPORT_MAX_ENTRIES or size >= EXPORT_MAX_BYTES:
                truncated = True
                break
            view = entry_view(item)
            before = out.tell()
            if writer is not None:
                writer.writerow([_csv_cell(view[f]) for f in CSV_FIELDS])
            else:
                out.write(json.dumps(view, separators=(",", ":"), ensure_ascii=False) + "\n")
            size += out.tell() - before
            n += 1
        return out.getvalue().encode(), n, truncated

    def clear(self, who: Any, older_than_days: int, now: int | None = None) -> int:
        """Delete the caller's entries (an admin: everyone's) older than ``older_than_days``."""
        now = self._clock.now_ms() if now is None else now
        cutoff = now - older_than_days * 86_400_000
        below = f"{cutoff:013d}"
        if who.is_admin:
            # Every partition, day by day through the by-day index: from the cutoff's day back to
            # the retention (older entries are past their TTL and DynamoDB deletes them).
            try:
                keep = int(self._settings.get().activity_retention_days)
            except Exception:  # noqa: BLE001 - the default retention
                keep = 30
            oldest = now - (keep + 2) * 86_400_000
            days = days_between(oldest, cutoff) if cutoff >= oldest else []
            return self._entries.delete_days_before(days, below)
        return self._entries.delete_before(scope_of(who.user_id), below)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else str(value)
    # No spreadsheet formulas from log text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


# -- stream records -> entries -------------------------------------------------------------


def _s(image: dict[str, Any], name: str) -> str | None:
    value = image.get(name) or {}
    if "S" in value:
        return str(value["S"])
    if "N" in value:
        return str(value["N"])
    return None


def _n(image: dict[str, Any], name: str) -> int:
    try:
        return int(float(_s(image, name) or 0))
    except ValueError:
        return 0


def record_time(record: dict[str, Any], image: dict[str, Any]) -> int:
    """When the change happened (ms): the task's updated_at, else the record's approximate time."""
    updated = _n(image, "updated_at")
    if updated:
        return updated
    approx = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    try:
        return int(float(approx) * 1000)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return int(time.time() * 1000)


def transition_entry(record: dict[str, Any], make: Any) -> Any:
    """The entry a stream record makes (via ``make``, with ActivityLog._entry's arguments), or
    None: a MODIFY whose state changed (or that restarted the transfer), or a REMOVE."""
    name = record.get("eventName")
    data = record.get("dynamodb") or {}
    old, new = data.get("OldImage") or {}, data.get("NewImage") or {}
    event_id = str(record.get("eventID") or json.dumps(data.get("Keys") or {}, sort_keys=True))
    suffix = hashlib.sha256(event_id.encode()).hexdigest()[:8]
    if name == "REMOVE" and old:
        at = record_time(record, {})
        owner, filename = _s(old, "owner"), _s(old, "filename") or _s(old, "id")
        return make(owner, f"{at:013d}#{suffix}", at, _s(old, "actor") or ENGINE, "task.removed",
                    f"{filename}: removed", "info", _s(old, "id"), _s(old, "batch_id"),
                    {"state": _s(old, "state")})
    if name != "MODIFY" or not new:
        return None
    before, after = _s(old, "state"), _s(new, "state")
    restarted = _n(new, "restarts") > _n(old, "restarts")
    if before == after and not restarted:
        return None
    at = record_time(record, new)
    owner, filename, task_id = _s(new, "owner"), _s(new, "filename") or _s(new, "id"), _s(new, "id")
    actor_now, actor_before = _s(new, "actor"), _s(old, "actor")
    if actor_now and (actor_now != actor_before or after in _USER_TARGETS):
        actor = actor_now
    else:
        actor = ENGINE
    note, error = _s(new, "note"), _s(new, "error")
    details: dict[str, Any] = {"from": before, "to": after}
    if before == after:
        kind, level = "task.restart", "warning"
        message = f"{filename}: the transfer restarted" + (f" ({note})" if note else "")
        details["restarts"] = _n(new, "restarts")
    else:
        kind, level = "task.state", "info"
        message = f"{filename}: {before} → {after}"
        if after == "failed":
            level = "error"
            message += f": {error}" if error else ""
            details["error"] = error
        elif restarted or (note and note != _s(old, "note")):
            level = "warning"
            message += f" ({note})" if note else ""
        if note:
            details["note"] = note
    return make(owner, f"{at:013d}#{suffix}", at, actor, kind, message, level, task_id,
                _s(new, "batch_id"), details)
