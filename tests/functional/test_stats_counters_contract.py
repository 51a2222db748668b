"""The statistics counters (chalicelib/stats/store.py ``Counters``), run against the in-memory fake
(tests/fakes/stats.py) and the DynamoDB implementation (chalicelib/persistence/stats.py
``DynamoCounters``, on moto), so the fake the statistics' unit tests use counts, refuses a retried
batch and reads as the real tables do."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain import aggregates as agg
from chalicelib.stats.store import Counters, counters
from tests.fakes.clock import ManualClock
from tests.fakes.stats import FakeCounters


@dataclass
class Rig:
    store: Counters
    make_batch: Callable[[str, str], None]
    batch: Callable[[str], dict[str, Any] | None]


@pytest.fixture(params=["fake", "dynamodb"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if request.param == "fake":
        fake = FakeCounters(ManualClock())

        def make(batch_id: str, owner: str) -> None:
            fake.batches[batch_id] = {"id": batch_id, "owner": owner}

        yield Rig(fake, make, lambda batch_id: fake.batches.get(batch_id))
        return
    request.getfixturevalue("emulator")
    from chalicelib.config import Config
    from chalicelib.container import dynamodb_client
    from chalicelib.persistence.stats import DynamoCounters
    from chalicelib.stats.store import image

    config = Config.from_env()
    db = dynamodb_client(config)
    real = DynamoCounters(db, config.stats_table, config.batches_table, clock=ManualClock())

    def put(batch_id: str, owner: str) -> None:
        db.put_item(TableName=config.batches_table, Item={"id": {"S": batch_id}, "owner": {"S": owner}})

    def read(batch_id: str) -> dict[str, Any] | None:
        got = db.get_item(TableName=config.batches_table, Key={"id": {"S": batch_id}}, ConsistentRead=True)
        return image(got.get("Item"))

    yield Rig(real, put, read)


def _scope() -> str:
    return f"u#{uuid.uuid4().hex[:10]}"


def test_deltas_are_added_once_per_batch_token(rig: Rig) -> None:
    scope = _scope()
    d = agg.Deltas()
    d.add(scope, "gauge", {"queued": 2, "size": 100})
    d.add(scope, "host#a.example", {"added": 1})
    d.names[(scope, "host#a.example")] = "a.example"
    assert rig.store.add(d, "0000000000001.aaa") == (2, 0)
    assert rig.store.add(d, "0000000000001.aaa") == (0, 2)  # the same batch again: refused
    assert rig.store.add(d, "0000000000002.bbb") == (2, 0)
    gauge = rig.store.item(scope, "gauge")
    assert counters(gauge) == {"queued": 4, "size": 200}
    assert rig.store.item(scope, "host#a.example")["name"] == "a.example"
    assert rig.store.item(scope, "nothing") == {}


def test_reading_a_range_and_a_prefix_in_key_order(rig: Rig) -> None:
    scope = _scope()
    d = agg.Deltas()
    for key in ("day#2026-01-02", "day#2026-01-01", "day#2026-01-05", "tag#b", "tag#a"):
        d.add(scope, key, {"added": 1})
    rig.store.add(d, "0000000000001.ccc")
    days = rig.store.between(scope, "day#2026-01-01", "day#2026-01-02")
    assert [i["key"] for i in days] == ["day#2026-01-01", "day#2026-01-02"]
    assert [i["key"] for i in rig.store.prefixed(scope, "tag#")] == ["tag#a", "tag#b"]
    assert all(counters(i) == {"added": 1} for i in days)


def test_batch_deltas_only_into_an_existing_batch_of_its_owner(rig: Rig) -> None:
    owner, batch_id, gone = uuid.uuid4().hex[:8], f"b-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    rig.make_batch(batch_id, owner)
    d = agg.Deltas()
    d.batches[(batch_id, owner)] = agg.BatchDelta(owner, {"items": 2, "state:queued": 2, "total_bytes": 50})
    d.batches[(batch_id, "someone-else")] = agg.BatchDelta("someone-else", {"items": 5})
    d.batches[(gone, owner)] = agg.BatchDelta(owner, {"items": 1})
    assert rig.store.add(d, "0000000000001.ddd") == (1, 2)
    item = rig.batch(batch_id)
    assert item is not None and (item["items"], item["s_queued"], item["total_bytes"]) == (2, 2, 50)
    assert rig.batch(gone) is None  # the stream never makes a batch
    assert rig.store.add(d, "0000000000001.ddd") == (0, 3)
