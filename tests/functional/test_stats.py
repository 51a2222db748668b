"""Statistics counters and batch summaries against the emulator: real-shaped stream records
applied by StatsStore, read back through its readers; retries; coalescing; the stream poller."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from chalicelib.persistence.stats import DynamoCounters
from chalicelib.stats.store import StatsStore
from local_runtime.stream_poller import StreamPoller, stream_sources
from tests.support.stats import aggregate_poller
from tests.support.wait import wait_for

_ser = TypeSerializer()
_seq = iter(range(10**9))


def _image(task: dict[str, Any] | None) -> dict[str, Any] | None:
    if task is None:
        return None
    return {k: _ser.serialize(v) for k, v in task.items() if v is not None}


def record(old: dict[str, Any] | None, new: dict[str, Any] | None, at_ms: int | None = None) -> dict[str, Any]:
    """A stream record as Lambda hands it to a handler."""
    event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    data: dict[str, Any] = {
        "ApproximateCreationDateTime": (at_ms or int(time.time() * 1000)) / 1000,
        "Keys": {"id": {"S": (new or old or {})["id"]}},
        "SequenceNumber": f"{next(_seq):021d}",
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        data["OldImage"] = _image(old)
    if new is not None:
        data["NewImage"] = _image(new)
    return {"eventID": uuid.uuid4().hex, "eventName": event, "eventSource": "aws:dynamodb", "dynamodb": data}


def make_task(owner: str, **over: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    task = {
        "id": str(uuid.uuid4()), "owner": owner, "state": "queued", "url": "https://files.example/a.bin",
        "host": "files.example", "created_at": now, "updated_at": now, "bytes_done": 0, "tags": [],
    }
    task.update(over)
    return task


class CountingClient:
    """The DynamoDB client, counting update_item calls; ``fail_on``: those call numbers raise
    before they run, ``lose_on``: those run and then raise (a crash or a timeout after DynamoDB
    applied the write, its answer lost)."""

    def __init__(self, inner: Any, fail_on: set[int] | None = None, lose_on: set[int] | None = None) -> None:
        self._inner = inner
        self.updates = 0
        self.fail_on = fail_on or set()
        self.lose_on = lose_on or set()

    def update_item(self, **kwargs: Any) -> Any:
        self.updates += 1
        if self.updates in self.fail_on:
            raise RuntimeError(f"injected failure of write {self.updates}")
        answer = self._inner.update_item(**kwargs)
        if self.updates in self.lose_on:
            raise RuntimeError(f"injected crash after write {self.updates}")
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture()
def owner() -> str:
    return f"stats-{uuid.uuid4().hex[:8]}"


def store_with(svc: Any, client: Any) -> StatsStore:
    tables = svc.stats.counters
    return StatsStore(DynamoCounters(client, tables.stats_table, tables.batches_table), svc.repo)


def test_a_download_s_life_is_counted_and_removal_keeps_history(svc, owner: str) -> None:
    stats = svc.stats
    scope = f"u#{owner}"
    now = int(time.time() * 1000)
    queued = make_task(owner, category="iso", tags=["linux", "big"], batch_id=f"b-{owner}", batch_name="Night")
    running = dict(queued, state="downloading", size=4000, bytes_done=1000, started_at=now, lane_bytes={"0": 500},
                   lane_speed={"0": 100})
    done = dict(running, state="completed", bytes_done=4000, finished_at=now + 2000, lane_bytes={}, lane_speed={})
    other = make_task(owner, url="https://other.example/b", host="other.example")
    failed = dict(other, state="failed", finished_at=now)
    before_all = stats.state_counts("all")
    stats.apply([record(None, queued), record(None, other), record(queued, running)])
    assert stats.state_counts(scope) == {"queued": 1, "downloading": 1, "paused": 0, "completed": 0, "failed": 0,
                                         "cancelled": 0}
    assert stats.state_counts("all")["queued"] == before_all["queued"] + 1
    engine = stats.engine(scope)
    assert engine["total"] == 2 and engine["total_bytes"] == 4000 and engine["downloaded_bytes"] == 1500
    assert engine["remaining_bytes"] == 2500
    stats.apply([record(running, done), record(other, failed)])
    overview = stats.overview(scope, datetime.now(tz=UTC))
    assert overview["downloads"] == {"today": 2, "this_week": 2, "this_month": 2, "total": 2}
    assert overview["completed"]["total"] == 1 and overview["failed"]["today"] == 1
    assert overview["bytes"]["total"] == 4000 and overview["bytes_stored"] == 4000
    assert overview["success_rate"] == 0.5
    # Clearing the history (REMOVE) changes what exists now, not what happened.
    stats.apply([record(done, None), record(failed, None)])
    assert sum(stats.state_counts(scope).values()) == 0
    after = stats.overview(scope, datetime.now(tz=UTC))
    assert after["downloads"]["total"] == 2 and after["completed"]["today"] == 1 and after["bytes_stored"] == 0
    timeline = stats.timeline(scope, "hour", datetime.now(tz=UTC) - timedelta(hours=5), datetime.now(tz=UTC))
    assert len(timeline["buckets"]) == 6
    assert sum(b["added"] for b in timeline["buckets"]) == 2 and timeline["buckets"][-1]["completed"] == 1
    assert [b["added"] for b in timeline["buckets"][:-1]] == [0] * 5  # missing buckets are zeros
    hosts = stats.breakdown(scope, "host", 10)["items"]
    assert [(h["key"], h["added"], h["completed"], h["failed"]) for h in hosts] == [
        ("files.example", 1, 1, 0), ("other.example", 1, 0, 1)]
    tags = {t["key"]: t for t in stats.breakdown(scope, "tag", 10)["items"]}
    assert set(tags) == {"linux", "big"} and tags["big"]["bytes"] == 4000
    (batch,) = stats.breakdown(scope, "batch", 10)["items"]
    assert batch["name"] == "Night" and batch["key"] == f"b-{owner}"
    assert stats.breakdown(scope, "category", 1)["items"][0]["key"] == "iso"


def test_the_engine_speed_is_the_sum_over_running_downloads(svc, owner: str) -> None:
    from chalicelib.domain.task import Task
    from chalicelib.persistence.models import TaskModel

    ids = []
    try:
        for speed in (100, 250):
            task = Task(id=str(uuid.uuid4()), owner=owner, url="https://x.example/f", filename="f",
                        key="downloads/f", created_at=1, updated_at=1)
            svc.repo.create(task)
            svc.repo.transition(task, [task.state], task.state.DOWNLOADING,
                                [TaskModel.lane_speed.set({"0": speed, "1": 50})])
            ids.append(task.id)
        assert svc.stats.total_speed(f"u#{owner}") == 450
        assert svc.stats.total_speed("all") >= 450
        stats = svc.stats.queue_statistics(f"u#{owner}")
        assert set(stats) == {"pending_count", "active_count", "paused_count", "completed_count", "failed_count",
                              "total_items", "total_bytes", "downloaded_bytes", "average_speed",
                              "estimated_time_remaining"}
        assert stats["average_speed"] == 450
    finally:
        for task_id in ids:
            svc.repo.delete(task_id)


def test_a_batch_of_records_is_coalesced_into_few_writes(svc) -> None:
    """2,000 INSERTs of two users in one batch, in Lambda's batches of 100: 19 writes a batch,
    not 100 x 12. (The same with 10,000 INSERTs: 1,900 writes, ~24 s against moto.)"""
    client = CountingClient(svc.stats.counters.db)
    stats = store_with(svc, client)
    owners = [f"bulk-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    assert svc.repo.claim_batch(f"bulk-{owners[0]}", owners[0])
    # Half of the tasks carry the id of a batch that is not their owner's: they never count in it.
    tasks = [make_task(owners[i % 2], batch_id=f"bulk-{owners[0]}") for i in range(2_000)]
    began = time.monotonic()
    for start in range(0, len(tasks), 100):
        stats.apply([record(None, t) for t in tasks[start:start + 100]])
    elapsed = time.monotonic() - began
    # (all + 2 users) x (gauge, total, day, hour, host, batch) + the batch item = 19; an hour
    # or a day boundary crossed during the run adds a bucket or two.
    assert client.updates <= 20 * 21, client.updates
    assert stats.state_counts(f"u#{owners[0]}")["queued"] == 1000
    tables = svc.stats.counters
    item = tables.db.get_item(TableName=tables.batches_table, Key={"id": {"S": f"bulk-{owners[0]}"}})["Item"]
    assert item["s_queued"] == {"N": "1000"} and item["items"] == {"N": "1000"}
    print(f"\n2,000 INSERTs: {client.updates} writes in {elapsed:.1f} s")


def test_a_batch_failing_half_way_is_retried_and_counts_exactly_once(
    svc, owner: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #12 item 6: the consumer dies half-way through a batch (its third write landed,
    the answer lost), Lambda retries the same records, twice: every counter is exact."""
    import chalicelib.persistence.stats as stats_module

    scope = f"u#{owner}"
    host = f"h-{owner}.example"
    records = [record(None, make_task(owner, host=host)) for _ in range(5)]
    crashing = CountingClient(svc.stats.counters.db, lose_on={3})
    with pytest.raises(RuntimeError):
        store_with(svc, crashing).apply(records)
    assert crashing.updates == 3
    report = svc.stats.apply(records)  # Lambda's retry: the same records
    assert report.skipped == 3 and report.writes > 0
    again = svc.stats.apply(records)  # and once more (a retry after a lost success)
    assert again.writes == 0
    assert svc.stats.state_counts(scope)["queued"] == 5
    assert svc.stats.overview(scope, datetime.now(tz=UTC))["downloads"]["total"] == 5
    (row,) = [r for r in svc.stats.breakdown(scope, "host", 50)["items"] if r["key"] == host]
    assert row["added"] == 5
    # A failure before a write (refused by DynamoDB) is retried the same way.
    more = [record(None, make_task(owner, host=host)) for _ in range(2)]
    with pytest.raises(RuntimeError):
        store_with(svc, CountingClient(svc.stats.counters.db, fail_on={2})).apply(more)
    svc.stats.apply(more)
    assert svc.stats.state_counts(scope)["queued"] == 7
    # Each item keeps a bounded set of tokens; fresh batches are never taken for retried ones.
    monkeypatch.setattr(stats_module, "KEEP", 2)
    for _ in range(6):
        svc.stats.apply([record(None, make_task(owner, host=host))])
    assert svc.stats.state_counts(scope)["queued"] == 13
    tables = svc.stats.counters
    gauge = tables.db.get_item(TableName=tables.stats_table, Key={"scope": {"S": scope}, "key": {"S": "gauge"}},
                               ConsistentRead=True)["Item"]
    assert 2 <= len(gauge[stats_module.APPLIED]["SS"]) <= 4


def test_batch_summaries_follow_their_tasks_and_a_deleted_batch_stays_deleted(svc, owner: str) -> None:
    from chalicelib.downloads.batches import summary
    from chalicelib.stats.store import image

    batch_id = f"batch-{uuid.uuid4().hex[:8]}"
    a = make_task(owner, batch_id=batch_id, batch_name="Mixed")
    b = make_task(owner, batch_id=batch_id, batch_name="Mixed")

    def read() -> dict[str, Any] | None:
        got = svc.stats.counters.db.get_item(TableName=svc.stats.counters.batches_table, Key={"id": {"S": batch_id}},
                                    ConsistentRead=True)
        return image(got.get("Item"))

    svc.stats.apply([record(None, a)])
    assert read() is None  # the stream never makes a batch: the add does, with its owner
    assert svc.repo.claim_batch(batch_id, owner, "Mixed")
    svc.stats.apply([record(None, a), record(None, b)])
    view = summary(read() or {})
    assert view["owner"] == owner and view["name"] == "Mixed" and view["items"] == 2 and view["state"] == "queued"
    a2 = dict(a, state="downloading", size=1000, bytes_done=250)
    b2 = dict(b, state="failed", finished_at=int(time.time() * 1000))
    svc.stats.apply([record(a, a2), record(b, b2)])
    view = summary(read() or {})
    assert view["state"] == "downloading" and view["failed"] == 1 and view["active"] == 1
    assert view["total_bytes"] == 1000 and view["downloaded_bytes"] == 250
    assert view["progress"] == 0.0  # one size unknown: by items (none completed)
    svc.stats.counters.db.delete_item(TableName=svc.stats.counters.batches_table, Key={"id": {"S": batch_id}})
    svc.stats.apply([record(a2, None), record(b2, None)])
    assert read() is None


def test_timeline_and_breakdown_queries_never_scan(svc, owner: str) -> None:
    calls: list[str] = []

    class Spy(CountingClient):
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(self._inner, name)

    stats = store_with(svc, Spy(svc.stats.counters.db))
    stats.timeline(f"u#{owner}", "day", datetime.now(tz=UTC) - timedelta(days=365), datetime.now(tz=UTC))
    stats.breakdown(f"u#{owner}", "tag", 5)
    stats.overview(f"u#{owner}", datetime.now(tz=UTC))
    assert "scan" not in calls and "query" in calls


@pytest.fixture()
def poller(svc) -> Iterator[StreamPoller]:
    import app as app_module

    # A second handler on the tasks table's stream: each has its own poller (and iterators).
    assert {"fanout_changes", "aggregate_changes"} <= {s.handler_name for s in stream_sources(app_module)}
    with aggregate_poller() as p:
        yield p


def test_the_stream_poller_drives_the_handler_from_real_writes(svc, owner: str, poller) -> None:
    from chalicelib.domain.task import Task

    task = Task(id=str(uuid.uuid4()), owner=owner, url="https://poll.example/f", filename="f", key="downloads/f",
                created_at=int(time.time() * 1000), updated_at=int(time.time() * 1000))
    svc.repo.create(task)
    wait_for(lambda: svc.stats.state_counts(f"u#{owner}")["queued"] == 1, 20, what="the INSERT to be counted")
    svc.repo.delete(task.id)
    wait_for(lambda: svc.stats.state_counts(f"u#{owner}")["queued"] == 0, 20, what="the REMOVE to be counted")
    assert svc.stats.overview(f"u#{owner}", datetime.now(tz=UTC))["downloads"]["total"] == 1
