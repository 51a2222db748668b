"""The statistics store (chalicelib/stats/store.py ``StatsStore``) on in-memory counters
(tests/fakes/stats.py) and tasks: stream batches counted once however often they are retried,
also after a failure half-way, and the engine's figures."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.stats.store import StatsStore
from tests.fakes.clock import ManualClock
from tests.fakes.stats import FakeCounters
from tests.fakes.tasks import FakeTasks

_ser = TypeSerializer()
NOW = ManualClock().now_ms()


def _record(new: dict[str, Any], seq: int) -> dict[str, Any]:
    image = {k: _ser.serialize(v) for k, v in new.items()}
    data = {"ApproximateCreationDateTime": NOW / 1000, "Keys": {"id": image["id"]}, "NewImage": image,
            "SequenceNumber": f"{seq:021d}"}
    return {"eventID": uuid.uuid4().hex, "eventName": "INSERT", "dynamodb": data}


def _added(owner: str, n: int, start: int = 0) -> list[dict[str, Any]]:
    return [_record({"id": str(uuid.uuid4()), "owner": owner, "state": "queued", "url": "https://h.example/x",
                     "host": "h.example", "created_at": NOW, "updated_at": NOW, "bytes_done": 0, "tags": []},
                    start + i) for i in range(n)]


def _rig() -> tuple[StatsStore, FakeCounters, FakeTasks]:
    clock = ManualClock()
    counters, tasks = FakeCounters(clock), FakeTasks(clock)
    return StatsStore(counters, tasks, clock=clock), counters, tasks


def test_a_retried_batch_counts_once() -> None:
    stats, _, _ = _rig()
    records = _added("alice", 3)
    first = stats.apply(records)
    assert first.records == 3 and first.writes > 0 and first.skipped == 0
    again = stats.apply(records)
    assert again.writes == 0 and again.skipped == first.writes
    assert stats.state_counts("u#alice")["queued"] == 3 and stats.state_counts("all")["queued"] == 3


def test_a_batch_failing_half_way_is_exact_after_its_retry() -> None:
    stats, counters, _ = _rig()
    records = _added("bob", 4)
    counters.lose_on = {3}  # the third write lands, its answer is lost
    with pytest.raises(RuntimeError):
        stats.apply(records)
    counters.lose_on = set()
    report = stats.apply(records)
    assert report.skipped == 3
    counters.fail_on = {counters.writes + 2}  # another batch: its second write fails before it lands
    more = _added("bob", 2, start=100)
    with pytest.raises(RuntimeError):
        stats.apply(more)
    stats.apply(more)
    assert stats.state_counts("u#bob")["queued"] == 6
    hosts = stats.breakdown("u#bob", "host", 10)["items"]
    assert [(h["key"], h["added"]) for h in hosts] == [("h.example", 6)]


def test_the_engine_figures_add_the_speeds_of_the_running_downloads() -> None:
    stats, _, tasks = _rig()
    for owner, speed in (("carol", 100), ("carol", 50), ("dave", 7)):
        tid = str(uuid.uuid4())
        tasks.create(Task(id=tid, owner=owner, url=f"http://o.test/{tid}", filename="f", key=f"k/{tid}",
                          state=TaskState.DOWNLOADING, lane_speed={"0": speed}))
    assert stats.total_speed("u#carol") == 150
    assert stats.total_speed("all") == 157
    assert stats.engine("u#dave")["total_speed"] == 7
