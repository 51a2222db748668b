"""The real-time side's stores' contract (chalicelib/realtime/ports.py), run against the
in-memory fakes (tests/fakes/realtime.py) and the DynamoDB implementations
(chalicelib/persistence/connections.py, rooms.py, throttle.py, on moto): connections and
their rooms, the room snapshots' reads, the cross-invocation throttle."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.realtime.auth import Identity
from chalicelib.realtime.ports import Connection, ConnectionRecords, NotConnected, TaskReads, Throttle
from chalicelib.transfer.ports import TaskStore
from tests.fakes.clock import ManualClock
from tests.fakes.realtime import FakeConnections, FakeTaskReads, FakeThrottle
from tests.fakes.tasks import FakeTasks

NOW = 1_700_000_000_000
NOW_S = NOW // 1000


@pytest.fixture()
def records(kind: str) -> ConnectionRecords:
    if kind == "fake":
        return FakeConnections()
    from chalicelib.persistence.connections import DynamoConnections

    return DynamoConnections()


@dataclass
class Reads:
    tasks: TaskStore
    reads: TaskReads


@pytest.fixture()
def reads(kind: str) -> Reads:
    if kind == "fake":
        fake = FakeTasks(ManualClock(NOW))
        return Reads(fake, FakeTaskReads(fake))
    from chalicelib.persistence.rooms import DynamoTaskReads
    from chalicelib.persistence.tasks import DynamoTasks

    return Reads(DynamoTasks(clock=ManualClock(NOW)), DynamoTaskReads())


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture()
def throttle(kind: str, clock: ManualClock) -> Iterator[Throttle]:
    if kind == "fake":
        yield FakeThrottle(clock)
        return
    from chalicelib.persistence.throttle import DynamoThrottle

    yield DynamoThrottle(clock)


def _conn(
    owner: str | None = None, anonymous: bool = False, session_id: str | None = None, expires: int = NOW_S + 3600
) -> Connection:
    identity = Identity(
        owner or f"u-{uuid.uuid4().hex[:8]}", anonymous=anonymous, roles=("user",), session_id=session_id
    )
    return Connection(uuid.uuid4().hex, identity, frozenset(), NOW, expires)


def test_a_connection_is_kept_as_it_connected(records: ConnectionRecords) -> None:
    conn = _conn(session_id="s1")
    records.put(conn)
    assert records.find(conn.id) == conn
    assert records.find(uuid.uuid4().hex) is None
    assert records.of_user(conn.owner, NOW_S) == [(conn.id, conn.identity)]


def test_an_anonymous_connection_is_not_listed_under_its_owner(records: ConnectionRecords) -> None:
    conn = _conn(anonymous=True)
    records.put(conn)
    assert records.find(conn.id) == conn
    assert records.of_user(conn.owner, NOW_S) == []


def test_rooms_joined_and_left(records: ConnectionRecords) -> None:
    a, b = _conn(), None
    records.put(a)
    b = _conn(a.owner)
    records.put(b)
    records.join(a, ["downloads", "stats"])
    records.join(b, ["downloads"])
    found = records.find(a.id)
    assert found is not None and found.rooms == {"downloads", "stats"}
    assert records.subscribers(a.owner, NOW_S) == {"downloads": {a.id, b.id}, "stats": {a.id}}
    records.leave(a, ["downloads"])
    found = records.find(a.id)
    assert found is not None and found.rooms == {"stats"}
    assert records.subscribers(a.owner, NOW_S) == {"downloads": {b.id}, "stats": {a.id}}
    assert records.subscribers(f"other-{a.owner}", NOW_S) == {}


def test_expired_connections_are_not_subscribers_nor_the_users(records: ConnectionRecords) -> None:
    old = _conn(expires=NOW_S + 10)
    records.put(old)
    records.join(old, ["downloads"])
    assert records.subscribers(old.owner, NOW_S + 9) == {"downloads": {old.id}}
    assert records.subscribers(old.owner, NOW_S + 10) == {}
    assert records.of_user(old.owner, NOW_S + 10) == []
    found = records.find(old.id)  # the record itself is found, expired or not: the service decides
    assert found is not None and found.expires == NOW_S + 10


def test_a_forgotten_connection_is_gone_everywhere(records: ConnectionRecords) -> None:
    conn = _conn()
    records.put(conn)
    records.join(conn, ["downloads", "batch:b1"])
    records.forget(conn.id, conn.owner, {"downloads", "batch:b1"})
    assert records.find(conn.id) is None
    assert records.subscribers(conn.owner, NOW_S) == {}
    assert records.of_user(conn.owner, NOW_S) == []
    records.forget(conn.id, conn.owner, ())  # forgetting twice is fine
    records.forget(uuid.uuid4().hex, None, ())


def test_rooms_of_a_forgotten_connection_cannot_change(records: ConnectionRecords) -> None:
    conn = _conn()
    records.put(conn)
    records.forget(conn.id, conn.owner, ())
    with pytest.raises(NotConnected):
        records.join(conn, ["downloads"])
    with pytest.raises(NotConnected):
        records.leave(conn, ["downloads"])


def _task(
    store: TaskStore, owner: str, created_at: int, state: TaskState = TaskState.QUEUED, batch_id: str | None = None
) -> Task:
    tid = str(uuid.uuid4())
    task = Task(
        id=tid,
        owner=owner,
        url=f"http://origin.test/{tid}",
        filename="f.bin",
        key=f"downloads/{tid}/f.bin",
        state=state,
        updated_at=NOW,
        created_at=created_at,
        batch_id=batch_id,
    )
    store.create(task, actor="tester")
    got = store.get(tid)
    assert got is not None
    return got


def test_room_reads(reads: Reads) -> None:
    owner = f"u-{uuid.uuid4().hex[:8]}"
    first = _task(reads.tasks, owner, NOW - 3000, TaskState.DOWNLOADING, batch_id="b1")
    second = _task(reads.tasks, owner, NOW - 2000, TaskState.QUEUED, batch_id="b1")
    third = _task(reads.tasks, owner, NOW - 1000, TaskState.DOWNLOADING)
    other = _task(reads.tasks, f"x-{owner}", NOW, TaskState.DOWNLOADING, batch_id="b1")
    assert [t.id for t in reads.reads.newest_of(owner)] == [third.id, second.id, first.id]
    assert [t.id for t in reads.reads.newest_in_batch(owner, "b1")] == [second.id, first.id]
    assert reads.reads.newest_in_batch(owner, "nope") == []
    assert reads.reads.get(other.id) == other and reads.reads.get(str(uuid.uuid4())) is None
    assert sorted(t.id for t in reads.reads.in_state(owner, TaskState.DOWNLOADING)) == sorted([first.id, third.id])
    assert reads.reads.count_in_state(owner, TaskState.DOWNLOADING) == 2
    assert reads.reads.count_in_state(owner, TaskState.QUEUED) == 1
    assert reads.reads.count_in_state(owner, TaskState.COMPLETED) == 0


def test_the_throttle_lets_one_through_per_interval(throttle: Throttle, clock: ManualClock) -> None:
    name = f"progress#{uuid.uuid4().hex}"
    assert throttle.acquire(name, 500)
    assert not throttle.acquire(name, 500)
    clock.advance(0.499)
    assert not throttle.acquire(name, 500)
    clock.advance(0.001)
    assert throttle.acquire(name, 500)
    assert throttle.acquire(f"{name}-other", 500)  # names are apart


def test_a_marked_send_starts_the_interval_again(throttle: Throttle, clock: ManualClock) -> None:
    name = f"stats#{uuid.uuid4().hex}"
    throttle.mark(name)
    assert not throttle.acquire(name, 2000)
    clock.advance(2)
    assert throttle.acquire(name, 2000)
