"""The real-time side's services on the in-memory stores (tests/fakes/realtime.py): the
connection store's rules (expiry, the room limit, what a subscribe adds) and the room reads."""

from __future__ import annotations

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.realtime.auth import Identity
from chalicelib.realtime.connections import ConnectionStore, TooManyRooms
from chalicelib.realtime.messages import MAX_ROOMS_PER_CONNECTION
from chalicelib.realtime.queries import TaskReader
from tests.fakes.clock import ManualClock
from tests.fakes.realtime import FakeConnections, FakeTaskReads
from tests.fakes.tasks import FakeTasks

ALICE = Identity("alice", roles=("user",), session_id="s-1")


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture()
def store(clock: ManualClock) -> ConnectionStore:
    return ConnectionStore(FakeConnections(), lifetime_seconds=100, clock=clock)


def test_a_connection_lives_until_its_lifetime_ends(store: ConnectionStore, clock: ManualClock) -> None:
    conn = store.add("c1", ALICE)
    assert conn.connected_at == clock.now_ms() and conn.expires == clock.now_ms() // 1000 + 100
    assert store.get("c1") == conn
    assert store.of_user("alice") == [("c1", "s-1")]
    clock.advance(100)
    assert store.get("c1") is None
    assert store.get("c1", include_expired=True) == conn
    assert store.of_user("alice") == []


def test_subscribe_adds_only_new_rooms_up_to_the_limit(store: ConnectionStore) -> None:
    conn = store.add("c1", ALICE)
    conn, new = store.subscribe(conn, ["downloads", "stats", "downloads"])
    assert new == ["downloads", "stats"] and conn.rooms == {"downloads", "stats"}
    conn, new = store.subscribe(conn, ["stats"])
    assert new == []
    assert store.subscribers("alice") == {"downloads": {"c1"}, "stats": {"c1"}}
    too_many = [f"download:{i}" for i in range(MAX_ROOMS_PER_CONNECTION - 1)]
    with pytest.raises(TooManyRooms):
        store.subscribe(conn, too_many)
    assert store.get("c1") == conn  # nothing joined
    conn, gone = store.unsubscribe(conn, ["downloads", "logs"])
    assert gone == ["downloads"] and conn.rooms == {"stats"} and store.subscribers("alice") == {"stats": {"c1"}}


def test_remove_forgets_the_rooms_it_recorded_and_those_named(store: ConnectionStore) -> None:
    conn = store.add("c1", ALICE)
    store.subscribe(conn, ["downloads", "stats"])
    assert store.remove("c1")
    assert store.subscribers("alice") == {} and store.of_user("alice") == []
    conn = store.add("c2", ALICE)
    store.subscribe(conn, ["logs"])
    store.records.forget("c2", None, ())  # its record lost, its subscription left behind
    assert store.subscribers("alice") == {"logs": {"c2"}}
    assert not store.remove("c2", "alice", ["logs"])  # what the fan-out saw it in goes too
    assert store.subscribers("alice") == {}


def _task(tasks: FakeTasks, tid: str, owner: str, created: int, state: TaskState, batch: str | None = None) -> Task:
    task = Task(
        id=tid,
        owner=owner,
        url=f"http://o/{tid}",
        filename="f",
        key=f"k/{tid}",
        state=state,
        updated_at=created,
        created_at=created,
        batch_id=batch,
    )
    tasks.create(task)
    return task


def test_a_room_is_read_as_its_name_says() -> None:
    tasks = FakeTasks()
    reader = TaskReader(FakeTaskReads(tasks))
    _task(tasks, "t1", "alice", 1, TaskState.DOWNLOADING, "b1")
    _task(tasks, "t2", "alice", 2, TaskState.QUEUED)
    _task(tasks, "t3", "bob", 3, TaskState.DOWNLOADING, "b1")
    assert [t.id for t in reader.room("alice", "downloads") or []] == ["t2", "t1"]
    assert [t.id for t in reader.room("alice", "batch:b1") or []] == ["t1"]
    assert [t.id for t in reader.room("alice", "download:t1") or []] == ["t1"]
    assert reader.room("alice", "download:t3") is None  # bob's
    assert reader.room("alice", "stats") == []
    assert [t.id for t in reader.active("alice")] == ["t1"]
    counts = reader.counts("alice")
    assert set(counts) == {s.value for s in TaskState}
    assert counts["downloading"] == 1 and counts["queued"] == 1 and sum(counts.values()) == 2
