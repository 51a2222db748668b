"""The downloads list: filters, sort and pagination, every query planned onto an index.

Planning (:func:`plan`) is pure: from the query and the caller it picks one index of the
tasks table, the partition(s) to walk, a key condition and the filters. Nothing here ever
Scans.

======================  ===========================================================
what is asked           index (partition; range key)
======================  ===========================================================
``batch_id``            by-batch (batch id; created_key), owner filter unless admin
one ``status``          by-owner-state (owner#state; created_key)
``sort=queue``          by-owner-rank (owner; rank): dispatch order
otherwise               by-owner (owner; created_key)
admin, every owner      by-created (kind "task"; created_key), keys only, then one
                        BatchGetItem for the page
admin, every owner,     by-state (state; rank), keys only, state by state in dispatch
``status``/``queue``    order, then BatchGetItem
======================  ===========================================================

``created_from``/``created_to`` become a key condition where the range key is created_key
(else a filter); category, tag (``contains`` on tags), ``q`` (``contains`` on ``search``,
the task's lower-case "filename url") and a list of states are a FilterExpression. On the
keys-only indexes the filters are applied to the fetched items instead.

Pagination: DynamoDB applies Limit before the filter, so a page is read until it holds
``per_page`` matches or the partition ends; the cursor names the index key of the last task
returned (and the partition walked), so the next page starts exactly after it. A cursor is
bound to the list it came from (its plan's signature); any other is refused. ``page=N``
without a cursor walks from the start (fine for the first pages; deep pages are reached by
following the cursor, which the ``Link: rel="next"`` header carries), except the last page,
which is read backwards from the end.

Totals: with no filter or one state, from the counters kept from the tasks stream
(StatsStore.gauge, handed in by the service) when they exist, else a COUNT Query; with other
filters, a COUNT Query with the same key condition and filter (O(matching items): it is run
for the first page and carried in the cursor to the next ones).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from pynamodb.expressions.condition import Condition

from ..domain.states import TaskState
from ..domain.task import Task
from ..metadata import filters as meta_filters
from ..persistence import cursors
from ..persistence.models import TaskModel
from ..persistence.repository import to_task

# index name -> (hash attribute, range attribute)
KEYS: dict[str, tuple[str, str]] = {
    "by-owner": ("owner", "created_key"),
    "by-owner-state": ("owner_state", "created_key"),
    "by-owner-rank": ("owner", "rank"),
    "by-batch": ("batch_id", "created_key"),
    "by-created": ("kind", "created_key"),
    "by-state": ("state", "rank"),
    "by-meta-id": ("meta_id", "created_key"),
    "by-meta-name": ("meta_name", "created_key"),
    "by-meta-id-all": ("meta_id_all", "created_key"),
    "by-meta-name-all": ("meta_name_all", "created_key"),
}
KEYS_ONLY = {"by-created", "by-state", "by-meta-id", "by-meta-name", "by-meta-id-all", "by-meta-name-all"}
_INDEX = {
    "by-owner": "by_owner", "by-owner-state": "by_owner_state", "by-owner-rank": "by_owner_rank",
    "by-batch": "by_batch", "by-created": "by_created", "by-state": "by_state",
    "by-meta-id": "by_meta_id", "by-meta-name": "by_meta_name",
    "by-meta-id-all": "by_meta_id_all", "by-meta-name-all": "by_meta_name_all",
}
STATE_ORDER = list(TaskState)
# Items a filtered page reads per request (DynamoDB applies Limit before the filter).
FILTERED_CHUNK = 250
BAD_CURSOR = "is not a cursor this API issued for this list"


class BadCursor(ValueError):
    pass


class Refused(PermissionError):
    pass


@dataclass(frozen=True)
class Filter:
    """One condition on a task attribute: ``eq``, ``in``, ``contains`` or ``between``."""

    attr: str
    op: str
    value: Any

    def condition(self) -> Condition:
        attr = getattr(TaskModel, self.attr)
        if self.op == "eq":
            return attr == self.value
        if self.op == "in":
            return attr.is_in(*self.value)
        if self.op == "contains":
            return attr.contains(self.value)
        if self.op == "between":
            return attr.between(*self.value)
        raise ValueError(self.op)  # "meta" filters are applied to fetched items only (keys-only indexes)

    def holds(self, item: Any) -> bool:
        """The same condition, evaluated on a fetched item (keys-only indexes)."""
        value = getattr(item, self.attr, None)
        if self.op == "eq":
            return bool(value == self.value)
        if self.op == "in":
            return value in self.value
        if self.op == "contains":
            return value is not None and self.value in value
        if self.op == "between":
            return value is not None and self.value[0] <= value <= self.value[1]
        if self.op == "meta":
            return meta_filters.holds(value, *self.value)
        raise ValueError(self.op)


@dataclass(frozen=True)
class Plan:
    index: str
    partitions: tuple[str, ...]  # walked in this order
    forward: bool = False
    key_range: tuple[str, str] | None = None  # a key condition on the range key (created_key)
    filters: tuple[Filter, ...] = ()
    # When the total is a sum of state counters: (scope, states; empty = every state).
    counter: tuple[str, tuple[TaskState, ...]] | None = None

    @property
    def keys_only(self) -> bool:
        return self.index in KEYS_ONLY

    @property
    def signature(self) -> str:
        raw = json.dumps([self.index, self.partitions, self.forward, self.key_range,
                          [[f.attr, f.op, f.value] for f in self.filters]], default=list)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def reversed(self) -> Plan:
        return Plan(self.index, self.partitions[::-1], not self.forward, self.key_range, self.filters, self.counter)


def created_bounds(start: int | None, end: int | None) -> tuple[str, str] | None:
    """created_key bounds (``<ms:013d>#<id>``) of an inclusive range of epoch ms."""
    if start is None and end is None:
        return None
    return (f"{start or 0:013d}", f"{end:013d}#~" if end is not None else "9999999999999#~")


def plan(query: Any, user_id: str, is_admin: bool) -> Plan:
    """The index, partitions, key condition and filters that answer ``query`` (a ListQuery)
    for the caller. Pure: no I/O."""
    if query.owner is not None and query.owner != user_id and not is_admin:
        raise Refused("only an admin lists other users' downloads")
    owner = query.owner if query.owner is not None else (None if is_admin else user_id)
    states: tuple[TaskState, ...] = tuple(query.states)
    bounds = created_bounds(query.created_from, query.created_to)
    extra: list[Filter] = []
    if query.category is not None:
        extra.append(Filter("category", "eq", query.category))
    if query.tag is not None:
        extra.append(Filter("tags", "contains", query.tag))
    if query.q is not None:
        extra.append(Filter("search", "contains", query.q.lower()))
    in_states = [Filter("state", "in", tuple(s.value for s in states))] if states else []
    newest_first = query.sort == "-created_at"
    simple = not extra and bounds is None and len(states) <= 1
    wanted = dict(getattr(query, "metadata_filters", None) or {})
    if wanted:
        return _metadata_plan(wanted, owner, newest_first, bounds, (*in_states, *extra))

    if query.batch_id is not None:
        owned = [Filter("owner", "eq", owner)] if owner is not None else []
        return Plan("by-batch", (query.batch_id,), forward=query.sort != "-created_at", key_range=bounds,
                    filters=(*owned, *in_states, *extra))
    if owner is not None:
        scope = f"u#{owner}"
        if query.sort == "queue":
            created = [Filter("created_key", "between", bounds)] if bounds else []
            return Plan("by-owner-rank", (owner,), forward=True, filters=(*in_states, *created, *extra),
                        counter=(scope, states) if simple else None)
        if len(states) == 1:
            return Plan("by-owner-state", (f"{owner}#{states[0].value}",), forward=not newest_first,
                        key_range=bounds, filters=tuple(extra), counter=(scope, states) if simple else None)
        return Plan("by-owner", (owner,), forward=not newest_first, key_range=bounds,
                    filters=(*in_states, *extra), counter=(scope, states) if simple else None)
    # An admin, every owner.
    if states or query.sort == "queue":
        walk = [s for s in STATE_ORDER if not states or s in states]
        created = [Filter("created_key", "between", bounds)] if bounds else []
        return Plan("by-state", tuple(s.value for s in walk), forward=True, filters=(*created, *extra),
                    counter=("all", states) if simple else None)
    return Plan("by-created", ("task",), forward=not newest_first, key_range=bounds, filters=tuple(extra),
                counter=("all", ()) if simple else None)


def _metadata_plan(wanted: dict[str, Any], owner: str | None, newest_first: bool,
                   bounds: tuple[str, str] | None, others: tuple[Filter, ...]) -> Plan:
    """A metadata filter: the owner's partition of by-meta-id (tmdb_id) or by-meta-name (title,
    artist), or (an admin's every-owner list) of their by-meta-*-all twins; the narrower ones
    checked on the fetched tasks."""
    checks = tuple(Filter("metadata", "meta", (name, value)) for name, value in wanted.items())
    entry = next(n for n in meta_filters.ENTRY if n in wanted)
    index = ("by-meta-id" if entry == "tmdb_id" else "by-meta-name") + ("-all" if owner is None else "")
    narrow = tuple(f for f in checks if f.value[0] != entry)  # the partition is the entry filter
    return Plan(index, (meta_filters.partition(entry, wanted[entry], owner),), forward=not newest_first,
                key_range=bounds, filters=(*narrow, *others))


# -- cursors -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    segment: int  # index into the plan's partitions
    key: dict[str, Any]  # the index key of the last task returned (DynamoDB JSON)
    total: int | None = None  # the list's total, carried from the first page

    def encode(self, p: Plan) -> str:
        return cursors.pack_position(p.signature, self.segment, self.key, self.total)


def decode_cursor(cursor: str, p: Plan) -> Cursor:
    """The cursor, if this list issued it; BadCursor otherwise (forged, another list's)."""
    try:
        segment, key, total = cursors.unpack_position(cursor, p.signature, len(p.partitions))
    except ValueError:
        raise BadCursor(BAD_CURSOR) from None
    hash_name, range_name = KEYS[p.index]
    ok = (
        isinstance(key, dict) and set(key) == {"id", hash_name, range_name}
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) and 0 < len(v["S"]) <= 1024
                for v in key.values())
        and key[hash_name]["S"] == p.partitions[segment]
    )
    if not ok or not isinstance(key, dict):
        raise BadCursor(BAD_CURSOR)
    return Cursor(segment, key, total)


def key_of(item: Any, p: Plan) -> dict[str, Any]:
    hash_name, range_name = KEYS[p.index]
    return {name: {"S": str(getattr(item, name))} for name in ("id", hash_name, range_name)}


# -- reading -----------------------------------------------------------------------------


@dataclass
class Result:
    tasks: list[Task]
    more: bool
    last: Cursor | None = None  # where the next page starts
    models: list[Any] = field(default_factory=list)


# The Queries of the list page being read (list_tasks), for Page.items_read: what the page cost.
_queries: ContextVar[list[Any] | None] = ContextVar("listing_queries", default=None)


def _query(p: Plan, segment: int, start: dict[str, Any] | None, page_size: int, forward: bool | None = None,
           count: bool = False) -> Any:
    index = getattr(TaskModel, _INDEX[p.index])
    range_cond = TaskModel.created_key.between(*p.key_range) if p.key_range else None
    filt: Condition | None = None
    if not p.keys_only:
        for f in p.filters:
            filt = f.condition() if filt is None else filt & f.condition()
    if count:
        return index.count(p.partitions[segment], range_key_condition=range_cond, filter_condition=filt)
    result = index.query(
        p.partitions[segment], range_key_condition=range_cond, filter_condition=filt,
        scan_index_forward=p.forward if forward is None else forward, last_evaluated_key=start,
        page_size=page_size,
    )
    running = _queries.get()
    if running is not None:
        running.append(result)
    return result


def batch_get(ids: list[str]) -> list[Any]:
    """The tasks with these ids, in this order, in one BatchGetItem per 100 (gone ones skipped)."""
    if not ids:
        return []
    found = {m.id: m for m in TaskModel.batch_get(ids, consistent_read=True)}
    return [found[i] for i in ids if i in found]


def _rows(p: Plan, start: Cursor | None, page_size: int, forward: bool | None = None) -> Iterator[tuple[int, Any]]:
    """(segment, row) of the plan's index in order, after ``start``, partition after partition."""
    first = start.segment if start else 0
    for segment in range(first, len(p.partitions)):
        key = start.key if start and segment == first else None
        for row in _query(p, segment, key, page_size, forward):
            yield segment, row


def _matches(p: Plan, skip: int, start: Cursor | None, want: int) -> Iterator[tuple[int, Any]]:
    """(segment, task item) of the plan's matching tasks in order, after ``start``, skipping
    the first ``skip`` matches, at most ``want`` of them."""
    if want <= 0:
        return
    if any(f.attr != "owner" for f in p.filters):
        # A batch's tasks are nearly all the caller's: only other filters read ahead.
        page_size = min(max(want + skip, FILTERED_CHUNK), 1000)
    else:
        page_size = min(want + skip, 1000)
    rows = _rows(p, start, page_size)
    source: Iterator[tuple[int, Any]] = rows if not p.keys_only else _fetch(p, rows, max(want + skip, 100))
    for segment, item in source:
        if skip:
            skip -= 1
            continue
        yield segment, item
        want -= 1
        if not want:
            return


def _fetch(p: Plan, rows: Iterator[tuple[int, Any]], chunk: int) -> Iterator[tuple[int, Any]]:
    """Keys-only rows -> the tasks, fetched ``chunk`` at a time and filtered here."""
    batch: list[tuple[int, Any]] = []

    def flush() -> Iterator[tuple[int, Any]]:
        found = {m.id: m for m in batch_get([r.id for _, r in batch])}
        for segment, row in batch:
            item = found.get(row.id)
            if item is not None and all(f.holds(item) for f in p.filters):
                yield segment, item

    for pair in rows:
        batch.append(pair)
        if len(batch) >= min(chunk, 100):
            yield from flush()
            batch = []
    if batch:
        yield from flush()


def read_page(p: Plan, per_page: int, start: Cursor | None = None, skip: int = 0) -> Result:
    """One page of ``per_page`` tasks after ``start`` (or after the first ``skip`` matches)."""
    if p.keys_only and not p.filters:
        # The index alone says where the page is and whether more follow: skipped keys and the
        # key after the page are never fetched; the page is one BatchGetItem (per 100).
        rows = list(itertools.islice(_rows(p, start, min(skip + per_page + 1, 1000)), skip, skip + per_page + 1))
        more, rows = len(rows) > per_page, rows[:per_page]
        found = {m.id: m for m in batch_get([r.id for _, r in rows])}
        models = [found[r.id] for _, r in rows if r.id in found]
        last = Cursor(rows[-1][0], key_of(rows[-1][1], p)) if more and rows else None
        return Result([to_task(m) for m in models], more, last, models)
    got = list(_matches(p, skip, start, per_page + 1))
    page, more = got[:per_page], len(got) > per_page
    last = Cursor(page[-1][0], key_of(page[-1][1], p)) if more and page else None
    return Result([to_task(m) for _, m in page], more, last, [m for _, m in page])


def read_last(p: Plan, count: int) -> Result:
    """The last ``count`` tasks of the list, in list order: read backwards from the end."""
    back = p.reversed()
    got = [m for _, m in _matches(back, 0, None, count)]
    got.reverse()
    return Result([to_task(m) for m in got], False, None, got)


def count(p: Plan) -> int:
    """How many tasks the plan lists: COUNT Queries (O(matching); keys-only: fetched and filtered)."""
    if not p.keys_only or not p.filters:
        return sum(int(_query(p, s, None, 0, count=True)) for s in range(len(p.partitions)))
    return sum(1 for _ in _matches(p, 0, None, 10**9))


# -- the list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    total: int
    page: int
    per_page: int
    next_cursor: str | None
    items_read: int = 0  # the items the page's Queries read (their ScannedCount; not the total's COUNT)


Counters = Callable[[str], "dict[str, int] | None"]


def state_counts(gauge: Callable[[str], dict[str, int]] | None) -> Counters | None:
    """Tasks per state of a scope from the statistics counters kept from the tasks stream
    (``gauge``: StatsStore.gauge); None for a scope without counters yet, whose total is then
    counted."""
    if gauge is None:
        return None

    def counts(scope: str) -> dict[str, int] | None:
        found = gauge(scope)
        if not found:
            return None
        return {s.value: max(0, int(found.get(s.value) or 0)) for s in TaskState}

    return counts


def total_of(p: Plan, state_counts: Counters | None) -> int:
    if p.counter is not None and state_counts is not None:
        scope, states = p.counter
        try:
            counts = state_counts(scope)
        except Exception:  # noqa: BLE001 - fall back to counting
            counts = None
        if counts:
            wanted = {s.value for s in states} if states else {s.value for s in TaskState}
            return max(0, sum(int(n) for state, n in counts.items() if state in wanted))
    return count(p)


def list_tasks(query: Any, user_id: str, is_admin: bool, state_counts: Counters | None = None) -> Page:
    """The page of the downloads list ``query`` (a ListQuery) asks for. Raises BadCursor and
    Refused."""
    running: list[Any] = []
    token = _queries.set(running)
    try:
        page = _list(query, user_id, is_admin, state_counts)
    finally:
        _queries.reset(token)
    return replace(page, items_read=sum(r.page_iter.total_scanned_count for r in running))


def _list(query: Any, user_id: str, is_admin: bool, state_counts: Counters | None) -> Page:
    p = plan(query, user_id, is_admin)
    start = decode_cursor(query.cursor, p) if query.cursor else None
    total = start.total if start is not None and start.total is not None else total_of(p, state_counts)
    per_page = query.per_page
    pages = -(-total // per_page)
    if start is not None:
        result = read_page(p, per_page, start)
    elif query.page > 1 and query.page == pages:
        result = read_last(p, total - (pages - 1) * per_page)
    else:
        result = read_page(p, per_page, skip=(query.page - 1) * per_page)
    # Counters trail the stream by a moment: the first page, when it is the whole list, is
    # the exact total, and no total claims fewer tasks than the pages seen so far.
    seen = (query.page - 1) * per_page + len(result.tasks) + (1 if result.more else 0)
    if query.page == 1 and start is None and not result.more:
        total = len(result.tasks)
    elif result.tasks:
        total = max(total, seen)
    cursor = None
    if result.last is not None:
        carried = total if p.counter is None else None
        cursor = Cursor(result.last.segment, result.last.key, carried).encode(p)
    return Page(result.tasks, total, query.page, per_page, cursor)
