"""The downloads list's reads (chalicelib/persistence/listing.py ``DynamoTaskPages``) over the
in-memory tasks: each index as the item attributes the table keeps (owner#state, rank,
created_key, search, the metadata keys), its partitions walked in the plan's order, the plan's
filters on the items, and DynamoDB-shaped positions, so the list's cursors round-trip."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

from chalicelib.domain.task import Task, rank
from chalicelib.downloads.listing import KEYS, Cursor, Plan, Result
from chalicelib.metadata import filters
from tests.fakes.tasks import FakeTasks


def item_of(task: Task) -> SimpleNamespace:
    """The attributes of the task's item that the indexes and filters read."""
    meta_id, meta_name = filters.index_keys(task.owner, task.metadata)
    return SimpleNamespace(
        id=task.id, owner=task.owner, state=task.state.value, owner_state=f"{task.owner}#{task.state.value}",
        rank=rank(task.priority, task.order), created_key=f"{task.created_at:013d}#{task.id}", kind="task",
        batch_id=task.batch_id, category=task.category, tags=task.tags, metadata=task.metadata,
        search=f"{task.filename} {task.url} {filters.search_words(task.metadata)}".lower().rstrip(),
        meta_id=meta_id, meta_name=meta_name,
        meta_id_all=filters.every_owner(meta_id), meta_name_all=filters.every_owner(meta_name),
        task=copy.deepcopy(task),
    )


class FakeTaskPages:
    def __init__(self, tasks: FakeTasks) -> None:
        self.tasks = tasks
        self.read = 0  # items looked at (what metered() reports)

    def _partition(self, p: Plan, segment: int, forward: bool) -> list[SimpleNamespace]:
        hash_name, range_name = KEYS[p.index]
        with self.tasks._lock:
            items = [item_of(r.task) for r in self.tasks.rows.values()]
        rows = [i for i in items if getattr(i, hash_name) == p.partitions[segment]]
        if p.key_range is not None:
            rows = [i for i in rows if p.key_range[0] <= i.created_key <= p.key_range[1]]
        rows.sort(key=lambda i: (getattr(i, range_name), i.id), reverse=not forward)
        return rows

    def _walk(self, p: Plan, start: Cursor | None) -> Iterator[tuple[int, SimpleNamespace]]:
        first = start.segment if start else 0
        for segment in range(first, len(p.partitions)):
            rows = self._partition(p, segment, p.forward)
            if start is not None and segment == first:
                at = [k for k, i in enumerate(rows) if i.id == start.key["id"]["S"]]
                rows = rows[at[0] + 1:] if at else []
            for item in rows:
                self.read += 1
                if all(f.holds(item) for f in p.filters):
                    yield segment, item

    def _key(self, item: SimpleNamespace, p: Plan) -> dict[str, Any]:
        hash_name, range_name = KEYS[p.index]
        return {name: {"S": str(getattr(item, name))} for name in ("id", hash_name, range_name)}

    def read_page(self, p: Plan, per_page: int, start: Cursor | None = None, skip: int = 0) -> Result:
        got = list(self._walk(p, start))[skip: skip + per_page + 1]
        page, more = got[:per_page], len(got) > per_page
        last = Cursor(page[-1][0], self._key(page[-1][1], p)) if more and page else None
        return Result([i.task for _, i in page], more, last)

    def read_last(self, p: Plan, count: int) -> Result:
        got = list(self._walk(p, None))
        return Result([i.task for _, i in got[len(got) - count:]] if count > 0 else [], False, None)

    def count(self, p: Plan) -> int:
        return sum(1 for _ in self._walk(p, None))

    @contextmanager
    def metered(self) -> Iterator[Callable[[], int]]:
        before = self.read
        yield lambda: self.read - before
