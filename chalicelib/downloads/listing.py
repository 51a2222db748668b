"""The downloads list: filters, sort and pagination, every query planned onto an index.

Planning (:func:`plan`) is pure: from the query and the caller it picks one index of the
tasks table, the partition(s) to walk, a key condition and the filters. Reading the plan is the
:class:`TaskPages` port's (chalicelib/persistence/listing.py ``DynamoTaskPages``). Nothing ever
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
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..domain.states import TaskState
from ..domain.task import Task
from ..metadata import filters as meta_filters
from ..persistence import cursors

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
STATE_ORDER = list(TaskState)
BAD_CURSOR = "is not a cursor this API issued for this list"


class BadCursor(ValueError):
    pass


class Refused(PermissionError):
    pass


@dataclass(frozen=True)
class Filter:
    """One condition on a task item's attribute: ``eq``, ``in``, ``contains``, ``between``, or
    ``meta`` (a metadata field, checked on fetched items only)."""

    attr: str
    op: str
    value: Any

    def holds(self, item: Any) -> bool:
        """The condition, evaluated on a fetched item (keys-only indexes; the other indexes
        filter in the Query: chalicelib/persistence/listing.py)."""
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


# -- reading -----------------------------------------------------------------------------


@dataclass
class Result:
    tasks: list[Task]
    more: bool
    last: Cursor | None = None  # where the next page starts


class TaskPages(Protocol):
    """Reading a plan from the tasks table (chalicelib/persistence/listing.py ``DynamoTaskPages``)."""

    def read_page(self, p: Plan, per_page: int, start: Cursor | None = None, skip: int = 0) -> Result:
        """One page of ``per_page`` tasks after ``start`` (or after the first ``skip`` matches);
        ``last`` when more follow: the position of the page's last task."""
        ...

    def read_last(self, p: Plan, count: int) -> Result:
        """The last ``count`` tasks of the list, in list order."""
        ...

    def count(self, p: Plan) -> int:
        """How many tasks the plan lists."""
        ...

    def metered(self) -> AbstractContextManager[Callable[[], int]]:
        """What the reads made inside the block cost: the items they read."""
        ...


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


def total_of(p: Plan, state_counts: Counters | None, pages: TaskPages) -> int:
    if p.counter is not None and state_counts is not None:
        scope, states = p.counter
        try:
            counts = state_counts(scope)
        except Exception:  # noqa: BLE001 - fall back to counting
            counts = None
        if counts:
            wanted = {s.value for s in states} if states else {s.value for s in TaskState}
            return max(0, sum(int(n) for state, n in counts.items() if state in wanted))
    return pages.count(p)


def list_tasks(
    query: Any, user_id: str, is_admin: bool, pages: TaskPages, state_counts: Counters | None = None
) -> Page:
    """The page of the downloads list ``query`` (a ListQuery) asks for, read through ``pages``.
    Raises BadCursor and Refused."""
    with pages.metered() as items_read:
        page = _list(query, user_id, is_admin, pages, state_counts)
        read = items_read()
    return replace(page, items_read=read)


def _list(query: Any, user_id: str, is_admin: bool, pages: TaskPages, state_counts: Counters | None) -> Page:
    p = plan(query, user_id, is_admin)
    start = decode_cursor(query.cursor, p) if query.cursor else None
    total = start.total if start is not None and start.total is not None else total_of(p, state_counts, pages)
    per_page = query.per_page
    last_page = -(-total // per_page)
    if start is not None:
        result = pages.read_page(p, per_page, start)
    elif query.page > 1 and query.page == last_page:
        result = pages.read_last(p, total - (last_page - 1) * per_page)
    else:
        result = pages.read_page(p, per_page, skip=(query.page - 1) * per_page)
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
