"""The downloads list read from the tasks table's indexes (chalicelib/downloads/listing.py
``TaskPages``): a plan's partitions walked with its key condition and FilterExpression, pages
read until they hold enough matches, keys-only indexes' rows fetched by BatchGetItem and
filtered here, COUNT Queries, and the items the page's Queries read (their ScannedCount).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pynamodb.expressions.condition import Condition

from ..downloads.listing import KEYS, Cursor, Filter, Plan, Result
from .models import TaskModel
from .repository import to_task

_INDEX = {
    "by-owner": "by_owner",
    "by-owner-state": "by_owner_state",
    "by-owner-rank": "by_owner_rank",
    "by-batch": "by_batch",
    "by-created": "by_created",
    "by-state": "by_state",
    "by-meta-id": "by_meta_id",
    "by-meta-name": "by_meta_name",
    "by-meta-id-all": "by_meta_id_all",
    "by-meta-name-all": "by_meta_name_all",
}
# Items a filtered page reads per request (DynamoDB applies Limit before the filter).
FILTERED_CHUNK = 250
# The Queries of the list page being read (DynamoTaskPages.metered): what the page cost.
_queries: ContextVar[list[Any] | None] = ContextVar("listing_queries", default=None)


def condition(f: Filter) -> Condition:
    """A filter as a FilterExpression on the task items."""
    attr = getattr(TaskModel, f.attr)
    if f.op == "eq":
        return attr == f.value
    if f.op == "in":
        return attr.is_in(*f.value)
    if f.op == "contains":
        return attr.contains(f.value)
    if f.op == "between":
        return attr.between(*f.value)
    raise ValueError(f.op)  # "meta" filters are applied to fetched items only (keys-only indexes)


def key_of(item: Any, p: Plan) -> dict[str, Any]:
    hash_name, range_name = KEYS[p.index]
    return {name: {"S": str(getattr(item, name))} for name in ("id", hash_name, range_name)}


def _query(
    p: Plan,
    segment: int,
    start: dict[str, Any] | None,
    page_size: int,
    forward: bool | None = None,
    count: bool = False,
) -> Any:
    index = getattr(TaskModel, _INDEX[p.index])
    range_cond = TaskModel.created_key.between(*p.key_range) if p.key_range else None
    filt: Condition | None = None
    if not p.keys_only:
        for f in p.filters:
            filt = condition(f) if filt is None else filt & condition(f)
    if count:
        return index.count(p.partitions[segment], range_key_condition=range_cond, filter_condition=filt)
    result = index.query(
        p.partitions[segment],
        range_key_condition=range_cond,
        filter_condition=filt,
        scan_index_forward=p.forward if forward is None else forward,
        last_evaluated_key=start,
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


class DynamoTaskPages:
    def read_page(self, p: Plan, per_page: int, start: Cursor | None = None, skip: int = 0) -> Result:
        """One page of ``per_page`` tasks after ``start`` (or after the first ``skip`` matches)."""
        if p.keys_only and not p.filters:
            # The index alone says where the page is and whether more follow: skipped keys and the
            # key after the page are never fetched; the page is one BatchGetItem (per 100).
            rows = list(itertools.islice(_rows(p, start, min(skip + per_page + 1, 1000)), skip, skip + per_page + 1))
            more, rows = len(rows) > per_page, rows[:per_page]
            found = {m.id: m for m in batch_get([r.id for _, r in rows])}
            models = [found[r.id] for _, r in rows if r.id in found]
            last = Cursor(rows[-1][0], key_of(rows[-1][1], p)) if more and rows else None
            return Result([to_task(m) for m in models], more, last)
        got = list(_matches(p, skip, start, per_page + 1))
        page, more = got[:per_page], len(got) > per_page
        last = Cursor(page[-1][0], key_of(page[-1][1], p)) if more and page else None
        return Result([to_task(m) for _, m in page], more, last)

    def read_last(self, p: Plan, count: int) -> Result:
        """The last ``count`` tasks of the list, in list order: read backwards from the end."""
        got = [m for _, m in _matches(p.reversed(), 0, None, count)]
        got.reverse()
        return Result([to_task(m) for m in got], False, None)

    def count(self, p: Plan) -> int:
        """How many tasks the plan lists: COUNT Queries (O(matching); keys-only: fetched and filtered)."""
        if not p.keys_only or not p.filters:
            return sum(int(_query(p, s, None, 0, count=True)) for s in range(len(p.partitions)))
        return sum(1 for _ in _matches(p, 0, None, 10**9))

    @contextmanager
    def metered(self) -> Iterator[Callable[[], int]]:
        """The items read by the Queries made inside the block (their ScannedCount; a COUNT
        Query's not included)."""
        running: list[Any] = []
        token = _queries.set(running)
        try:
            yield lambda: sum(r.page_iter.total_scanned_count for r in running)
        finally:
            _queries.reset(token)
