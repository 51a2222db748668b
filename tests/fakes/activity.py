"""The activity log's stored entries (chalicelib/persistence/activity.py ``DynamoActivity``) in
memory: partitions by owner scope, the by-task and by-day indexes, newest first, the plan's sk
range and filter, and DynamoDB-shaped positions."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from chalicelib.activity.log import ActivityEntry, LogPlan


def _hash_of(p: LogPlan, e: ActivityEntry) -> str | None:
    return {None: e.pk, "by-task": e.task_id, "by-day": e.day}[p.index]


def _matches(p: LogPlan, e: ActivityEntry, now: int) -> bool:
    checks = (
        p.sk_range is None or p.sk_range[0] <= e.sk <= p.sk_range[1],
        not p.levels or e.level in p.levels,
        not p.kind or e.kind == p.kind or e.kind.startswith(p.kind + "."),
        not p.batch_id or e.batch_id == p.batch_id,
        not p.scope or e.pk == p.scope,
        e.expires is None or e.expires > datetime.fromtimestamp(now / 1000, tz=UTC),
    )
    return all(checks)


class FakeActivityEntries:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], ActivityEntry] = {}
        self.fail = False  # every write raises (the log must not fail what it records)
        self._lock = threading.Lock()

    def add(self, entry: ActivityEntry) -> None:
        self.add_many([entry])

    def add_many(self, entries: Iterable[ActivityEntry]) -> None:
        made = list(entries)
        if self.fail:
            raise RuntimeError("the activity table is unavailable")
        with self._lock:
            for e in made:
                self.items[(e.pk, e.sk)] = e

    def _partition(self, p: LogPlan, segment: int) -> list[ActivityEntry]:
        part = p.partitions[segment]
        with self._lock:
            found = [e for e in self.items.values() if _hash_of(p, e) == part]
        return sorted(found, key=lambda e: (e.sk, e.pk), reverse=True)

    def read(
        self, p: LogPlan, segment: int, start: dict[str, Any] | None, page_size: int, now: int
    ) -> Iterator[ActivityEntry]:
        rows = self._partition(p, segment)
        if start is not None:
            after = (start["sk"]["S"], start["pk"]["S"])
            rows = [e for e in rows if (e.sk, e.pk) < after]
        return iter([e for e in rows if _matches(p, e, now)])

    def count(self, p: LogPlan, now: int) -> int:
        return sum(1 for segment in range(len(p.partitions)) for _ in self.read(p, segment, None, 1000, now))

    def delete_before(self, scope: str, before_sk: str) -> int:
        with self._lock:
            gone = [k for k in self.items if k[0] == scope and k[1] < before_sk]
            for k in gone:
                del self.items[k]
        return len(gone)

    def delete_days_before(self, days: Sequence[str], before_sk: str) -> int:
        wanted = set(days)
        with self._lock:
            gone = [k for k, e in self.items.items() if e.day in wanted and e.sk < before_sk]
            for k in gone:
                del self.items[k]
        return len(gone)
