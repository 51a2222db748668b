"""A worker whose download finished starts the next one itself (chain_starts, issue #13):
the kick of its finish keeps one started task, and Transfer.handle runs it in the same
thread, without a start message; a chained start that fails, or that the invocation has no
time left for, is sent its start message after all."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.transfer import Delivery
from tests.fakes.rig import Rig, body_of


class KeepingEngine:
    """The fake engine, whose kick_and_keep hands out the tasks given, one per finish."""

    def __init__(self, rig: Rig) -> None:
        self.inner = rig.engine
        self.to_keep: list[Task] = []
        self.kept = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def kick_and_keep(self) -> Task | None:
        self.inner.kick()
        if not self.to_keep:
            return None
        self.kept += 1
        return self.to_keep.pop(0)


@pytest.fixture()
def rig() -> Rig:
    rig = Rig()
    engine = KeepingEngine(rig)
    rig.transfer.ctx.engine = engine
    rig.transfer.ctx.chain_starts = True
    return rig


def _engine(rig: Rig) -> KeepingEngine:
    return rig.transfer.ctx.engine  # type: ignore[return-value]


def test_a_finish_runs_the_kept_start_in_the_same_handle_without_a_message(rig: Rig) -> None:
    first = rig.downloading("http://o/a.bin", body_of(1000))
    second = rig.downloading("http://o/b.bin", body_of(2000, seed=3))
    third = rig.downloading("http://o/c.bin", body_of(3000, seed=5))
    _engine(rig).to_keep = [second, third]
    rig.start(first)
    assert [rig.task(t.id).state for t in (first, second, third)] == [TaskState.COMPLETED] * 3
    assert rig.store.objects[rig.task(third.id).key] == body_of(3000, seed=5)
    assert rig.queue.sent == []  # no start message for the chained ones
    assert _engine(rig).kept == 2 and _engine(rig).inner.kicks == 3


def test_a_chained_start_that_fails_gets_its_start_message(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    first = rig.downloading("http://o/a.bin", body_of(1000))
    second = rig.downloading("http://o/b.bin", body_of(2000))
    _engine(rig).to_keep = [second]
    original = rig.transfer.planner.start

    def start(msg: Any, started: Task | None = None, *, chained: bool = False) -> None:
        if msg.task == second.id:
            raise RuntimeError("unexpected")
        original(msg, started, chained=chained)

    monkeypatch.setattr(rig.transfer.planner, "start", start)
    rig.start(first)  # the message it handled went well: no exception
    assert rig.task(first.id).state == TaskState.COMPLETED
    assert [(m["kind"], m["task"]) for m, _ in rig.queue.sent] == [("start", second.id)]


def test_no_time_left_sends_the_start_message_and_off_means_a_plain_kick(rig: Rig) -> None:
    first = rig.downloading("http://o/a.bin", body_of(1000))
    second = rig.downloading("http://o/b.bin", body_of(2000))
    _engine(rig).to_keep = [second]
    rig.transfer.handle(Delivery({"kind": "start", "task": first.id, "run": 1}, remaining=60.0))
    assert [m["task"] for m, _ in rig.queue.sent] == [second.id]
    assert rig.task(second.id).state == TaskState.DOWNLOADING  # started, its message on the way
    rig.queue.take()
    rig.transfer.ctx.chain_starts = False
    third = rig.downloading("http://o/c.bin", body_of(3000))
    _engine(rig).to_keep = [third]
    rig.start(second)
    assert _engine(rig).kept == 1 and rig.task(second.id).state == TaskState.COMPLETED
