"""Queue control (chalicelib/engine/queuecontrol.py ``QueueControl``) on in-memory fakes and a
clock the test sets: start, stop, a timed pause and its kick messages, and the view."""

from __future__ import annotations

from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.task import iso
from chalicelib.engine.queuecontrol import QueueControl, QueueStatus
from tests.fakes.adapters import FakeQueue
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeActivity, FakeGate

ADMIN = Identity(user_id="u-admin", username="admin", role=Role.ADMIN)


class FakeDispatcher:
    def __init__(self, gate: FakeGate, running: list[str] | None = None) -> None:
        self.gate = gate
        self.kicks = 0
        self.running = running or []
        self.requeued: list[tuple[str, str]] = []

    def kick(self) -> int:
        self.kicks += 1
        self.gate.resume_if_due(self.gate.clock.now_ms())  # as the real one does under its lease
        return 0

    def requeue_running(self, actor: str, note: str = "queue stopped") -> list[str]:
        self.requeued.append((actor, note))
        return list(self.running)


class Rig:
    def __init__(self, running: list[str] | None = None) -> None:
        self.clock = ManualClock()
        self.gate = FakeGate(self.clock)
        self.dispatcher = FakeDispatcher(self.gate, running)
        self.queue = FakeQueue()
        self.activity = FakeActivity()
        self.control = QueueControl(self.gate, self.dispatcher, self.queue, self.activity, clock=self.clock)


def test_stop_sends_running_downloads_back_and_says_so() -> None:
    rig = Rig(running=["t1", "t2"])
    status = rig.control.stop(ADMIN)
    assert not status.running and status.changed_by == "admin" and status.changed_at == rig.clock.now_ms()
    assert rig.dispatcher.requeued == [("admin", "queue stopped")]
    [entry] = rig.activity.entries
    assert entry["kind"] == "queue.stop" and entry["data"] == {"requeued": ["t1", "t2"], "requeued_count": 2}
    assert rig.control.view(status)["state"] == "stopped" and rig.dispatcher.kicks == 0


def test_start_dispatches_and_names_what_the_queue_was() -> None:
    rig = Rig()
    rig.control.stop(ADMIN)
    status = rig.control.start(ADMIN)
    assert status.running and rig.dispatcher.kicks == 1
    assert rig.activity.entries[-1]["kind"] == "queue.start"
    assert "(it was stopped)" in rig.activity.entries[-1]["message"]


def test_a_pause_schedules_its_end_on_the_injected_clock() -> None:
    rig = Rig(running=["t1"])
    until = rig.clock.now_ms() + 90_500
    status = rig.control.pause(ADMIN, until)
    assert status.paused_until == until
    assert rig.queue.sent == [({"kind": "kick", "until": until}, 91)]  # whole seconds, rounded up
    assert rig.dispatcher.requeued == [("admin", f"queue paused until {iso(until)}")]
    assert rig.activity.entries[-1]["data"]["until"] == iso(until)
    view = rig.control.view(status)
    assert view["state"] == "paused" and not view["running"] and view["paused_until"] == iso(until)
    rig.clock.advance(91)
    assert rig.control.view(status) == {**view, "state": "running", "running": True, "paused_until": None}


def test_a_long_pause_is_waited_out_in_kicks_of_at_most_15_minutes() -> None:
    rig = Rig()
    until = rig.clock.now_ms() + 3600_000
    rig.control.pause(ADMIN, until)
    assert [d for _, d in rig.queue.sent] == [900]
    rig.queue.sent.clear()
    rig.clock.advance(900)
    rig.control.on_kick({"kind": "kick", "until": until})  # the pause still lasts: wait on
    assert rig.queue.sent == [({"kind": "kick", "until": until}, 900)] and rig.gate.state.paused_until == until
    rig.queue.sent.clear()
    rig.clock.advance(2700)
    rig.control.on_kick({"kind": "kick", "until": until})
    assert rig.queue.sent == [] and rig.gate.state.running


def test_a_kick_of_an_earlier_pause_or_of_an_add_only_dispatches() -> None:
    rig = Rig()
    rig.control.pause(ADMIN, rig.clock.now_ms() + 60_000)
    rig.queue.sent.clear()
    rig.control.on_kick({"kind": "kick", "until": rig.clock.now_ms() + 5})  # a pause since replaced
    rig.control.on_kick({"kind": "kick"})
    assert rig.queue.sent == [] and rig.dispatcher.kicks == 2


def test_reading_the_status_ends_a_pause_whose_time_has_come() -> None:
    rig = Rig()
    rig.control.pause(ADMIN, rig.clock.now_ms() + 1000)
    assert rig.control.status().paused_until is not None and rig.dispatcher.kicks == 0
    rig.clock.advance(1)
    status = rig.control.status()
    assert status == QueueStatus(True, None, "engine", rig.clock.now_ms(), status.version)
    assert rig.dispatcher.kicks == 1 and rig.control.now_ms() == rig.clock.now_ms()
