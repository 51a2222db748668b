"""The dispatcher on in-memory fakes: starting what fits, fairly between users, the queue's
stop and timed pause, the lease, and sending downloads back."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.engine.dispatcher import Dispatcher
from chalicelib.engine.queuecontrol import QueueStatus
from chalicelib.settings.store import EngineSettings
from tests.fakes.adapters import FakeQueue
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeActivity, FakeGate, FakeLease, FakeSettings, FakeWaiting
from tests.fakes.tasks import FakeTasks


class Rig:
    def __init__(self, **settings: int) -> None:
        self.clock = ManualClock()
        self.tasks = FakeTasks(self.clock)
        self.queue = FakeQueue()
        self.settings = FakeSettings(EngineSettings(**settings))
        self.gate = FakeGate(self.clock)
        self.activity = FakeActivity()
        self.lease = FakeLease()
        self.dispatcher = Dispatcher(
            self.tasks, self.queue, self.settings, control=self.gate, activity=self.activity,
            waiting=FakeWaiting(self.clock, self.tasks), lease=self.lease, clock=self.clock,
        )

    def add(self, owner: str, state: TaskState = TaskState.QUEUED, priority: int = 0, **values: object) -> Task:
        tid = f"{owner}-{uuid.uuid4().hex[:6]}"
        order = self.clock.now_ms()
        self.clock.advance(0.001)
        task = Task(id=tid, owner=owner, url=f"http://o.test/{tid}", filename="f", key=f"k/{tid}", state=state,
                    priority=priority, order=order, created_at=order, **values)  # type: ignore[arg-type]
        self.tasks.create(task)
        return task

    def running(self) -> list[str]:
        return self.tasks.ids_in_state(TaskState.DOWNLOADING)

    def owners_running(self) -> list[str]:
        return sorted(self.tasks.owners_of(self.running()).values())


def test_a_kick_starts_what_fits_in_priority_order() -> None:
    rig = Rig(max_concurrent_downloads=2)
    low, high, mid = rig.add("alice"), rig.add("alice", priority=10), rig.add("alice", priority=5)
    assert rig.dispatcher.kick() == 2
    assert set(rig.running()) == {high.id, mid.id}
    starts = rig.queue.take()
    assert {(m["kind"], m["task"], m["run"]) for m in starts} == {("start", high.id, 1), ("start", mid.id, 1)}
    started = rig.tasks.get(high.id)
    assert started is not None and started.phase == "starting" and started.started_at == rig.clock.now_ms()
    assert rig.dispatcher.kick() == 0 and not rig.queue.sent  # no room
    assert rig.tasks.get(low.id).state == TaskState.QUEUED  # type: ignore[union-attr]
    assert rig.lease.holder is None  # let go after the round


def test_slots_go_to_users_in_turn() -> None:
    rig = Rig(max_concurrent_downloads=2)
    for _ in range(3):
        rig.add("alice")
    rig.add("bob")
    assert rig.dispatcher.kick() == 2
    assert rig.owners_running() == ["alice", "bob"]


def test_a_slot_lent_beyond_a_share_is_taken_back() -> None:
    rig = Rig(max_concurrent_downloads=2, per_user_downloads=1)
    a1, a2 = rig.add("alice", TaskState.DOWNLOADING, run=1), rig.add("alice", TaskState.DOWNLOADING, run=1)
    rig.add("bob")
    assert rig.dispatcher.kick() == 1
    assert rig.owners_running() == ["alice", "bob"]
    back = [t for t in (rig.tasks.get(a1.id), rig.tasks.get(a2.id)) if t is not None and t.state == TaskState.QUEUED]
    assert len(back) == 1 and back[0].phase == "held" and "fair share" in (back[0].note or "")


def test_nothing_starts_while_the_queue_is_stopped() -> None:
    rig = Rig()
    rig.add("alice")
    rig.gate.state = QueueStatus(running=False)
    assert rig.dispatcher.kick() == 0 and not rig.running()


def test_a_timed_pause_that_is_over_resumes_and_dispatches() -> None:
    rig = Rig()
    rig.add("alice")
    rig.gate.state = QueueStatus(running=False, paused_until=rig.clock.now_ms() + 60_000)
    assert rig.dispatcher.kick() == 0  # paused for another minute (on the dispatcher's clock)
    rig.clock.advance(61)
    assert rig.dispatcher.kick() == 1
    assert rig.gate.state.running and "queue.resume" in rig.activity.kinds()


def test_a_kick_finding_the_lease_taken_asks_the_holder_to_run_again() -> None:
    rig = Rig()
    rig.add("alice")
    assert rig.lease.acquire("someone", rig.clock.now_ms(), 30_000)
    assert rig.dispatcher.kick() == 0
    assert rig.lease.dirty and not rig.running()


def test_stopping_sends_running_downloads_back_but_not_one_finalising() -> None:
    rig = Rig(max_concurrent_downloads=3)
    moving = rig.add("alice", TaskState.DOWNLOADING, run=2)
    finishing = rig.add("alice", TaskState.DOWNLOADING, run=2)
    assert rig.tasks.claim_finalize(finishing, "fin") is not None
    rig.gate.state = QueueStatus(running=False)
    assert rig.dispatcher.requeue_running("admin") == [moving.id]
    back = rig.tasks.get(moving.id)
    assert back is not None and back.state == TaskState.QUEUED and back.phase == "held" and back.run == 3
    assert rig.tasks.get(finishing.id).state == TaskState.DOWNLOADING  # type: ignore[union-attr]


@pytest.mark.parametrize("order", [None, 5])
def test_send_back_keeps_or_moves_the_queue_place(order: int | None) -> None:
    rig = Rig()
    task = rig.add("alice", TaskState.DOWNLOADING, run=1)
    back = rig.dispatcher.send_back(task, "engine", "slow", order=order)
    assert back is not None and back.order == (task.order if order is None else order)
