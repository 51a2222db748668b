"""The local stream poller reading one table's stream for several handlers at once (the four
consumers of the tasks table in the runtime): every handler gets every record, in batches of
its own size, from one read; a handler that keeps failing skips only its own batch."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.domain.task import Task
from local_runtime.stream_poller import StreamPoller, StreamSource, shared_sources
from tests.support.wait import wait_for


class Recorder:
    """A stream handler that keeps the task ids of its INSERT records, batch by batch."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.batches: list[list[str]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        if self.fail:
            raise RuntimeError(f"{self.name} fails")
        ids = [r["dynamodb"]["Keys"]["id"]["S"] for r in event["Records"] if r["eventName"] == "INSERT"]
        with self.lock:
            self.batches.append(ids)

    def seen(self, wanted: set[str]) -> set[str]:
        with self.lock:
            return {i for batch in self.batches for i in batch} & wanted


class CountingStreams:
    """The dynamodbstreams client, counting the records its GetRecords calls returned."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.records = 0

    def get_records(self, **kwargs: Any) -> Any:
        answer = self._client.get_records(**kwargs)
        self.records += len(answer.get("Records") or [])
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.fixture()
def make_poller(svc) -> Iterator[Callable[..., tuple[StreamPoller, CountingStreams]]]:
    made: list[StreamPoller] = []
    session = boto3.session.Session()

    def make(*sources: StreamSource, attempts: int = 3) -> tuple[StreamPoller, CountingStreams]:
        streams = CountingStreams(session.client("dynamodbstreams"))
        poller = StreamPoller(session.client("dynamodb"), streams, list(sources), session.region_name or "us-east-1",
                              poll_interval=0.05, idle_interval=0.05, attempts=attempts).start()
        made.append(poller)
        return poller, streams

    yield make
    for poller in made:
        poller.stop()


def _add_tasks(svc, n: int) -> list[str]:
    now = int(time.time() * 1000)
    owner = f"stream-{uuid.uuid4().hex[:8]}"
    ids = [str(uuid.uuid4()) for _ in range(n)]
    for task_id in ids:
        svc.repo.create(Task(id=task_id, owner=owner, url="https://stream.example/f", filename="f",
                             key=f"downloads/{task_id}/f", created_at=now, updated_at=now))
    return ids


def test_one_read_serves_every_handler_in_its_own_batch_size(svc, make_poller) -> None:
    small, large = Recorder("small"), Recorder("large")
    table = svc.config.tasks_table
    poller, streams = make_poller(StreamSource("small", small, table, batch_size=2),
                                  StreamSource("large", large, table, batch_size=100))
    ids = _add_tasks(svc, 5)
    wanted = set(ids)
    wait_for(lambda: small.seen(wanted) == wanted and large.seen(wanted) == wanted, 20,
             what="both handlers to see the 5 inserts")
    # Read once for both: two readers would have fetched each record twice.
    assert streams.records == 5
    assert all(len(batch) <= 2 for batch in small.batches)
    for task_id in ids:
        svc.repo.delete(task_id)


def test_records_read_together_go_to_each_handler_in_batches_of_its_size() -> None:
    small, large = Recorder("small"), Recorder("large")
    poller = StreamPoller(None, None, [StreamSource("small", small, "t", batch_size=2),
                                       StreamSource("large", large, "t", batch_size=100)], "us-east-1")
    records = [{"eventName": "INSERT", "dynamodb": {"Keys": {"id": {"S": f"t{i}"}}}} for i in range(5)]
    poller._invoke(records)
    assert small.batches == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    assert large.batches == [["t0", "t1", "t2", "t3", "t4"]]
    assert poller.invocations == 4 and poller.records == 10 and poller.skipped == 0


def test_a_failing_handler_skips_only_its_own_records(svc, make_poller) -> None:
    good, bad = Recorder("good"), Recorder("bad", fail=True)
    table = svc.config.tasks_table
    poller, _ = make_poller(StreamSource("bad", bad, table), StreamSource("good", good, table), attempts=1)
    ids = _add_tasks(svc, 3)
    wanted = set(ids)
    wait_for(lambda: good.seen(wanted) == wanted, 20, what="the good handler to see the 3 inserts")
    wait_for(lambda: poller.skipped >= 3, 20, what="the failing handler's records to be skipped")
    for task_id in ids:
        svc.repo.delete(task_id)


def _source(name: str, table: str = "t", window: float = 0.0, start: str = "LATEST") -> StreamSource:
    return StreamSource(name, Recorder(name), table, window_seconds=window, starting_position=start)


def test_sources_share_a_reader_only_when_they_can(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HAUL_DATA_DIR_IN_USE", raising=False)
    a, b, c = _source("a"), _source("b"), _source("c", table="other")
    windowed, horizon = _source("w", window=1.0), _source("h", start="TRIM_HORIZON")
    groups = shared_sources([a, b, c, windowed, horizon])
    assert [[s.handler_name for s in g] for g in groups] == [["a", "b"], ["c"], ["h"], ["w"]]
    # A data directory whose saved positions differ between handlers: each reads on its own.
    monkeypatch.setenv("HAUL_DATA_DIR_IN_USE", str(tmp_path))
    (tmp_path / "streams").mkdir()
    (tmp_path / "streams" / "a.json").write_text(json.dumps({"shard-1": "10"}))
    (tmp_path / "streams" / "b.json").write_text(json.dumps({"shard-1": "12"}))
    assert [[s.handler_name for s in g] for g in shared_sources([a, b])] == [["a"], ["b"]]
    (tmp_path / "streams" / "b.json").write_text(json.dumps({"shard-1": "10"}))
    assert [[s.handler_name for s in g] for g in shared_sources([a, b])] == [["a", "b"]]


def test_a_shared_reader_keeps_every_handlers_position(svc, make_poller, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HAUL_DATA_DIR_IN_USE", str(tmp_path))
    one, two = Recorder("one"), Recorder("two")
    table = svc.config.tasks_table
    make_poller(StreamSource("one", one, table), StreamSource("two", two, table))
    wanted = set(_add_tasks(svc, 2))
    wait_for(lambda: one.seen(wanted) == wanted and two.seen(wanted) == wanted, 20, what="the inserts")

    def saved() -> list[dict[str, str]] | None:
        files = [tmp_path / "streams" / f"{n}.json" for n in ("one", "two")]
        return [json.loads(f.read_text()) for f in files] if all(f.exists() for f in files) else None

    positions = wait_for(saved, 20, what="both handlers' positions to be written")
    assert positions[0] and positions[0] == positions[1]
    for task_id in wanted:
        svc.repo.delete(task_id)
