"""List totals read the counters at most once a second per process (StatsStore.recent_gauge),
while the statistics pages (StatsStore.gauge) always read them afresh."""

from __future__ import annotations

from chalicelib.stats.store import GAUGE_MAX_AGE, StatsStore
from tests.fakes.clock import ManualClock
from tests.fakes.stats import FakeCounters
from tests.fakes.tasks import FakeTasks


def _rig() -> tuple[StatsStore, FakeCounters, ManualClock]:
    clock = ManualClock()
    counters = FakeCounters(clock)
    for scope in ("u#a", "u#b", "all"):
        counters.items[(scope, "gauge")] = {"scope": scope, "key": "gauge", "n_queued": 3}
    return StatsStore(counters, FakeTasks(clock), clock=clock), counters, clock


def _set(counters: FakeCounters, queued: int) -> None:
    for item in counters.items.values():
        item["n_queued"] = queued


def test_a_gauge_read_within_a_second_is_reused_per_scope() -> None:
    store, counters, clock = _rig()
    assert store.recent_gauge("u#a") == {"queued": 3}
    _set(counters, 4)
    clock.advance(GAUGE_MAX_AGE / 2)
    assert store.recent_gauge("u#a") == {"queued": 3}  # the same read
    assert store.recent_gauge("u#b") == {"queued": 4}  # another scope: its own read
    assert counters.reads == ["u#a", "u#b"]


def test_a_gauge_older_than_a_second_is_read_again() -> None:
    store, counters, clock = _rig()
    store.recent_gauge("all")
    _set(counters, 9)
    clock.advance(GAUGE_MAX_AGE)
    assert store.recent_gauge("all") == {"queued": 9}
    assert counters.reads == ["all", "all"]


def test_the_cached_answer_cannot_be_changed_by_a_caller() -> None:
    store, _, _ = _rig()
    store.recent_gauge("all")["queued"] = 999
    assert store.recent_gauge("all") == {"queued": 3}


def test_the_statistics_pages_always_read_afresh() -> None:
    store, counters, _ = _rig()
    store.gauge("all")
    store.gauge("all")
    assert counters.reads == ["all", "all"]
