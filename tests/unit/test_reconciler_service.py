"""The reconciler on in-memory fakes: stalled downloads re-dispatched (or failed once out of
restarts), a runtime's restart not counted, and the history sweep."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.engine.reconciler import Reconciler
from chalicelib.settings.store import EngineSettings
from tests.fakes.adapters import FakeQueue
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeActivity, FakeEngine, FakeSettings
from tests.fakes.tasks import FakeTasks


class Rig:
    def __init__(self, max_restarts: int = 3) -> None:
        self.clock = ManualClock()
        self.tasks = FakeTasks(self.clock)
        self.queue = FakeQueue()
        self.engine = FakeEngine(self.tasks)
        self.activity = FakeActivity()
        self.failed: list[tuple[str, str]] = []
        self.reconciler = Reconciler(
            self.tasks, self.queue, self.engine, 60, activity=self.activity,
            fail=lambda task, reason: self.failed.append((task.id, reason)),
            settings=FakeSettings(EngineSettings(max_restarts=max_restarts)), clock=self.clock,
        )

    def downloading(self, tid: str, quiet_s: float, restarts: int = 0) -> Task:
        task = Task(id=tid, owner="alice", url="http://o.test/f", filename="f", key="k", state=TaskState.DOWNLOADING,
                    run=1, restarts=restarts, heartbeat=self.clock.now_ms() - int(quiet_s * 1000))
        self.tasks.create(task)
        return task


def test_a_stalled_download_is_re_dispatched_and_counted() -> None:
    rig = Rig()
    rig.downloading("stalled", 61)
    rig.downloading("alive", 10)
    assert rig.reconciler.run() == 1
    assert rig.queue.take() == [{"kind": "start", "task": "stalled", "run": 2, "attempt": 0}]
    revived = rig.tasks.get("stalled")
    assert revived is not None and revived.restarts == 1 and revived.phase == "starting"
    assert revived.heartbeat == rig.clock.now_ms() and rig.engine.kicks == 1


def test_a_runtime_starting_up_resumes_without_counting_a_restart() -> None:
    rig = Rig()
    rig.downloading("t", 5)
    assert rig.reconciler.run(quiet_since_ms=rig.clock.now_ms()) == 1
    assert rig.tasks.get("t").restarts == 0  # type: ignore[union-attr]


def test_a_download_out_of_restarts_fails_instead() -> None:
    rig = Rig(max_restarts=2)
    rig.downloading("t", 120, restarts=2)
    assert rig.reconciler.run() == 0
    assert rig.failed and rig.failed[0][0] == "t" and not rig.queue.sent


def test_the_sweep_deletes_expired_history_only() -> None:
    rig = Rig()
    for tid, expires_s in (("old", -10), ("new", 3600)):
        task = rig.downloading(tid, 0)
        when = datetime.fromtimestamp(rig.clock.now_ms() / 1000 + expires_s, tz=UTC)
        assert rig.tasks.fail(task, "x", when, "engine") is not None
    assert rig.reconciler.sweep() == 1
    assert rig.tasks.get("old") is None and rig.tasks.get("new") is not None
    assert rig.activity.kinds() == ["history.expire"]
