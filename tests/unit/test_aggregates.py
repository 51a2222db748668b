"""Counter deltas from task changes (chalicelib/domain/aggregates.py): pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain import aggregates as agg

T0 = int(datetime(2024, 5, 15, 10, 30, tzinfo=UTC).timestamp() * 1000)  # a Wednesday


def task(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "t1", "owner": "u1", "state": "queued", "url": "https://example.com/a.bin", "host": "example.com",
        "created_at": T0, "updated_at": T0, "bytes_done": 0, "tags": [],
    }
    base.update(over)
    return base


def test_insert_counts_gauge_added_and_breakdowns_in_both_scopes() -> None:
    new = task(batch_id="b1", batch_name="Nightly", category="iso", tags=["x", "y", "x"])
    d = agg.deltas([(None, new, T0)])
    for scope in ("all", "u#u1"):
        assert d.counters[(scope, "gauge")] == {"queued": 1}
        assert d.counters[(scope, "total")] == {"added": 1}
        assert d.counters[(scope, "day#2024-05-15")] == {"added": 1}
        assert d.counters[(scope, "hour#2024-05-15T10")] == {"added": 1}
        for key in ("host#example.com", "batch#b1", "category#iso", "tag#x", "tag#y"):
            assert d.counters[(scope, key)] == {"added": 1}
        assert d.names[(scope, "batch#b1")] == "Nightly"
    batch = d.batches[("b1", "u1")]
    assert batch.owner == "u1" and batch.counts == {"state:queued": 1, "items": 1}


def test_completion_counts_once_with_bytes_and_duration() -> None:
    old = task(state="downloading", size=1000, bytes_done=400, lane_bytes={"0": 100}, started_at=T0, batch_id="b")
    new = task(state="completed", size=1000, bytes_done=1000, started_at=T0, finished_at=T0 + 4000,
               updated_at=T0 + 4000, batch_id="b")
    d = agg.deltas([(old, new, T0 + 4000)])
    gauge = d.counters[("u#u1", "gauge")]
    assert gauge == {"downloading": -1, "completed": 1, "done": 500, "active_size": -1000, "active_done": -500,
                     "stored": 1000}
    assert d.counters[("all", "total")] == {"completed": 1, "bytes": 1000, "download_ms": 4000}
    assert d.counters[("all", "host#example.com")] == {"completed": 1, "bytes": 1000}
    assert d.counters[("all", "batch#b")] == {"completed": 1, "bytes": 1000}
    assert d.batches[("b", "u1")].counts == {"state:downloading": -1, "state:completed": 1, "done_bytes": 500}
    # The same state again (a progress write after) counts nothing new.
    again = agg.deltas([(new, dict(new, updated_at=T0 + 5000), T0 + 5000)])
    assert again.counters == {} and again.batches == {}


def test_progress_moves_only_byte_gauges_and_the_batch() -> None:
    old = task(state="downloading", size=1000, bytes_done=0, lane_bytes={"0": 10}, batch_id="b")
    new = task(state="downloading", size=1000, bytes_done=250, lane_bytes={"0": 50, "1": 20}, batch_id="b")
    d = agg.deltas([(old, new, T0)])
    assert d.counters[("all", "gauge")] == {"done": 310, "active_done": 310}
    assert set(d.counters) == {("all", "gauge"), ("u#u1", "gauge")}
    assert d.batches[("b", "u1")].counts == {"done_bytes": 310}


def test_size_becoming_known_adds_to_totals() -> None:
    d = agg.deltas([(task(), task(size=2048), T0)])
    assert d.counters[("all", "gauge")] == {"size": 2048, "active_size": 2048}
    d = agg.deltas([(task(batch_id="b"), task(size=2048, batch_id="b"), T0)])
    assert d.batches[("b", "u1")].counts == {"sized": 1, "total_bytes": 2048}


def test_remove_changes_gauges_and_batches_never_history() -> None:
    old = task(state="completed", size=10, bytes_done=10, batch_id="b", finished_at=T0)
    d = agg.deltas([(old, None, T0 + 1)])
    assert d.counters[("all", "gauge")] == {"completed": -1, "size": -10, "done": -10, "stored": -10}
    assert all(key == "gauge" for _, key in d.counters)
    assert d.batches[("b", "u1")].counts == {"state:completed": -1, "items": -1, "sized": -1, "total_bytes": -10,
                                     "done_bytes": -10}


def test_retry_is_not_a_new_download_but_a_second_failure_counts() -> None:
    failed = task(state="failed", finished_at=T0)
    queued = task(state="queued")
    d = agg.deltas([(failed, queued, T0), (queued, dict(failed, finished_at=T0 + 10), T0 + 10)])
    assert d.counters[("all", "total")] == {"failed": 1}
    assert ("all", "gauge") not in d.counters  # failed -> queued -> failed: back where it was


@pytest.mark.parametrize("target", ["failed", "cancelled"])
def test_failure_and_cancellation_are_counted_on_entry(target: str) -> None:
    d = agg.deltas([(task(state="downloading"), task(state=target, finished_at=T0), T0)])
    assert d.counters[("u#u1", "total")] == {target: 1}
    assert d.counters[("u#u1", "host#example.com")] == {target: 1}


def test_coalescing_many_inserts_is_one_delta_per_key() -> None:
    changes = [(None, task(id=f"t{i}", owner=f"u{i % 2}"), T0) for i in range(100)]
    d = agg.deltas(changes)
    assert d.changes == 100
    assert d.counters[("all", "gauge")] == {"queued": 100}
    assert d.counters[("u#u0", "total")] == {"added": 50}
    # all + two users, each: gauge, total, day, hour, host
    assert len(d.counters) == 15


def test_a_task_that_moves_between_batches_leaves_one_and_joins_the_other() -> None:
    d = agg.deltas([(task(batch_id="a", size=5), task(batch_id="b", size=5), T0)])
    assert d.batches[("a", "u1")].counts == {"state:queued": -1, "items": -1, "sized": -1, "total_bytes": -5}
    assert d.batches[("b", "u1")].counts == {"state:queued": 1, "items": 1, "sized": 1, "total_bytes": 5}


def test_changes_without_owner_or_state_are_ignored() -> None:
    d = agg.deltas([(None, {"id": "x"}, T0), (None, task(state="bogus"), T0)])
    assert d.counters.get(("all", "gauge")) is None


@pytest.mark.parametrize(("states", "expected"), [
    ({}, "empty"),
    ({"queued": 1, "downloading": 1, "completed": 3}, "downloading"),
    ({"queued": 1, "paused": 1}, "queued"),
    ({"paused": 2, "failed": 1}, "paused"),
    ({"completed": 3}, "completed"),
    ({"completed": 2, "failed": 1}, "failed"),
    ({"completed": 2, "cancelled": 1}, "cancelled"),
    ({"cancelled": 1, "queued": -1}, "cancelled"),
])
def test_batch_state(states: dict[str, int], expected: str) -> None:
    assert agg.batch_state(states) == expected


def test_batch_progress_by_bytes_when_all_sizes_known_else_by_items() -> None:
    assert agg.batch_progress({"downloading": 2}, 2, 1000, 250) == 25.0
    assert agg.batch_progress({"completed": 1, "queued": 3}, 1, 1000, 1000) == 25.0
    assert agg.batch_progress({}, 0, 0, 0) == 0.0


def test_state_counts_every_state_never_negative() -> None:
    counts = agg.state_counts({"queued": 2, "failed": -1, "size": 10})
    assert counts == {"queued": 2, "downloading": 0, "paused": 0, "completed": 0, "failed": 0, "cancelled": 0}


def test_periods_weeks_start_on_monday_utc() -> None:
    starts = agg.period_starts(datetime(2024, 5, 15, 10, 30, tzinfo=UTC))
    assert starts["today"] == datetime(2024, 5, 15, tzinfo=UTC)
    assert starts["this_week"] == datetime(2024, 5, 13, tzinfo=UTC)
    assert starts["this_month"] == datetime(2024, 5, 1, tzinfo=UTC)
    sunday = agg.period_starts(datetime(2024, 6, 2, 23, 59, tzinfo=UTC))
    assert sunday["this_week"] == datetime(2024, 5, 27, tzinfo=UTC)  # the week began last month


def test_buckets_cover_both_ends() -> None:
    hours = agg.buckets("hour", datetime(2024, 5, 15, 10, 30, tzinfo=UTC), datetime(2024, 5, 15, 12, 5, tzinfo=UTC))
    assert [agg.bucket_key("hour", h) for h in hours] == ["hour#2024-05-15T10", "hour#2024-05-15T11",
                                                          "hour#2024-05-15T12"]
    days = agg.buckets("day", datetime(2024, 2, 28, 23, tzinfo=UTC), datetime(2024, 3, 1, tzinfo=UTC))
    assert [agg.bucket_key("day", d) for d in days] == ["day#2024-02-28", "day#2024-02-29", "day#2024-03-01"]


def test_success_rate() -> None:
    assert agg.success_rate(0, 0) is None
    assert agg.success_rate(3, 1) == 0.75


def test_two_owners_tasks_with_one_batch_id_count_apart() -> None:
    d = agg.deltas(
        [(None, task(id="a", batch_id="nightly"), T0), (None, task(id="b", owner="u2", batch_id="nightly"), T0)]
    )
    assert d.batches[("nightly", "u1")].owner == "u1" and d.batches[("nightly", "u2")].owner == "u2"
    assert d.batches[("nightly", "u1")].counts == d.batches[("nightly", "u2")].counts == {"state:queued": 1, "items": 1}
