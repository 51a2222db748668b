"""The statistics counters and batch summaries (chalicelib/persistence/stats.py ``DynamoCounters``)
in memory: each item's counters, the stream batches' tokens it has taken (a retried batch is
refused), and batch items that only exist once made. ``fail_on``/``lose_on``: the writes (counted
from 1) that fail before they apply, or apply and then fail (an answer lost)."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.domain import aggregates as agg
from chalicelib.stats.store import BATCH_STATE_PREFIX, COUNTER_PREFIX
from tests.fakes.clock import ManualClock


class FakeCounters:
    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.items: dict[tuple[str, str], dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.applied: dict[tuple[str, str], set[str]] = {}
        self.reads: list[str] = []
        self.writes = 0
        self.fail_on: set[int] = set()
        self.lose_on: set[int] = set()
        self._lock = threading.Lock()

    def add(self, deltas: agg.Deltas, token: str) -> tuple[int, int]:
        done = skipped = 0
        for (scope, key), counts in sorted(deltas.counters.items()):
            name = deltas.names.get((scope, key))
            if self._write(
                ("stats", f"{scope}\n{key}"), token, lambda s=scope, k=key, c=counts, n=name: self._count(s, k, c, n)
            ):
                done += 1
            else:
                skipped += 1
        for (batch_id, owner), batch in sorted(deltas.batches.items()):
            item = self.batches.get(batch_id)
            if item is None or item.get("owner") != owner:
                self._next_write()
                skipped += 1
                continue
            if self._write(("batch", batch_id), token, lambda i=item, c=batch.counts: self._count_batch(i, c)):
                done += 1
            else:
                skipped += 1
        return done, skipped

    def _next_write(self) -> int:
        self.writes += 1
        if self.writes in self.fail_on:
            raise RuntimeError(f"injected failure of write {self.writes}")
        return self.writes

    def _write(self, target: tuple[str, str], token: str, apply: Any) -> bool:
        number = self._next_write()
        with self._lock:
            taken = self.applied.setdefault(target, set())
            if token in taken:
                return False
            taken.add(token)
            apply()
        if number in self.lose_on:
            raise RuntimeError(f"injected crash after write {number}")
        return True

    def _count(self, scope: str, key: str, counts: dict[str, int], name: str | None) -> None:
        item = self.items.setdefault((scope, key), {"scope": scope, "key": key})
        for counter, delta in counts.items():
            item[COUNTER_PREFIX + counter] = item.get(COUNTER_PREFIX + counter, 0) + int(delta)
        item["updated_at"] = self.clock.now_ms()
        if name:
            item["name"] = name

    def _count_batch(self, item: dict[str, Any], counts: dict[str, int]) -> None:
        for counter, delta in counts.items():
            attr = BATCH_STATE_PREFIX + counter.removeprefix("state:") if counter.startswith("state:") else counter
            item[attr] = item.get(attr, 0) + int(delta)
        item["updated_at"] = self.clock.now_ms()

    def item(self, scope: str, key: str) -> dict[str, Any]:
        self.reads.append(scope)
        with self._lock:
            return dict(self.items.get((scope, key), {}))

    def between(self, scope: str, low: str, high: str) -> list[dict[str, Any]]:
        with self._lock:
            found = [dict(v) for (s, k), v in self.items.items() if s == scope and low <= k <= high]
        return sorted(found, key=lambda i: str(i["key"]))

    def prefixed(self, scope: str, prefix: str) -> list[dict[str, Any]]:
        with self._lock:
            found = [dict(v) for (s, k), v in self.items.items() if s == scope and k.startswith(prefix)]
        return sorted(found, key=lambda i: str(i["key"]))
