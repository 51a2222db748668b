"""List totals read the counters at most once a second per process (StatsStore.recent_gauge),
while the statistics pages (StatsStore.gauge) always read them afresh."""

from __future__ import annotations

from typing import Any

from chalicelib.stats.store import GAUGE_MAX_AGE, StatsStore


class _Table:
    """A DynamoDB client answering GetItem from a dict of gauge counters, counting the reads."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {"queued": 3}
        self.reads: list[str] = []

    def get_item(self, TableName: str, Key: dict[str, Any], ConsistentRead: bool) -> dict[str, Any]:  # noqa: N803
        scope = Key["scope"]["S"]
        self.reads.append(scope)
        return {"Item": {"scope": {"S": scope}, "key": {"S": "gauge"},
                         **{f"n_{k}": {"N": str(v)} for k, v in self.counts.items()}}}


def _store(table: _Table, now: list[float]) -> StatsStore:
    return StatsStore(table, "stats", "batches", repo=None, settings=None, clock=lambda: now[0])  # type: ignore[arg-type]


def test_a_gauge_read_within_a_second_is_reused_per_scope() -> None:
    table, now = _Table(), [100.0]
    store = _store(table, now)
    assert store.recent_gauge("u#a") == {"queued": 3}
    table.counts["queued"] = 4
    now[0] += GAUGE_MAX_AGE / 2
    assert store.recent_gauge("u#a") == {"queued": 3}  # the same read
    assert store.recent_gauge("u#b") == {"queued": 4}  # another scope: its own read
    assert table.reads == ["u#a", "u#b"]


def test_a_gauge_older_than_a_second_is_read_again() -> None:
    table, now = _Table(), [100.0]
    store = _store(table, now)
    store.recent_gauge("all")
    table.counts["queued"] = 9
    now[0] += GAUGE_MAX_AGE
    assert store.recent_gauge("all") == {"queued": 9}
    assert table.reads == ["all", "all"]


def test_the_cached_answer_cannot_be_changed_by_a_caller() -> None:
    table, now = _Table(), [100.0]
    store = _store(table, now)
    store.recent_gauge("all")["queued"] = 999
    assert store.recent_gauge("all") == {"queued": 3}


def test_the_statistics_pages_always_read_afresh() -> None:
    table, now = _Table(), [100.0]
    store = _store(table, now)
    store.gauge("all")
    store.gauge("all")
    assert table.reads == ["all", "all"]
