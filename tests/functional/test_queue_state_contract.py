"""The queue's stored state (chalicelib/engine/queuecontrol.py ``QueueSwitch``), run against the
in-memory fake (tests/fakes/engine.py ``FakeGate``) and the DynamoDB implementation
(chalicelib/persistence/queue.py ``DynamoQueueState``, on moto), so the fake the dispatcher's and
queue control's unit tests use behaves as the real store does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.engine.queuecontrol import ENGINE, QueueStatus, QueueSwitch
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeGate


@pytest.fixture(params=["fake", "dynamodb"])
def clocked(request: pytest.FixtureRequest) -> Iterator[tuple[QueueSwitch, ManualClock]]:
    clock = ManualClock()
    if request.param == "fake":
        yield FakeGate(clock), clock
        return
    request.getfixturevalue("emulator")
    from chalicelib.persistence.queue import DynamoQueueState

    # An item of its own: the process's queue item is the functional tests' (they clear it).
    yield DynamoQueueState(clock, key=f"queue-contract-{uuid.uuid4().hex}"), clock


def test_no_state_stored_means_running(clocked: tuple[QueueSwitch, ManualClock]) -> None:
    switch, clock = clocked
    status = switch.status()
    assert status == QueueStatus() and status.state(clock.now_ms()) == "running"
    assert not switch.resume_if_due(clock.now_ms())


def test_stop_start_and_pause_are_stored_with_who_and_when(clocked: tuple[QueueSwitch, ManualClock]) -> None:
    switch, clock = clocked
    stopped = switch.stop("alice")
    assert (stopped.running, stopped.paused_until, stopped.changed_by, stopped.changed_at) == (
        False, None, "alice", clock.now_ms())
    assert switch.status() == stopped and stopped.state(clock.now_ms()) == "stopped"
    clock.advance(1)
    until = clock.now_ms() + 60_000
    paused = switch.pause("bob", until)
    assert switch.status() == paused and paused.paused_until == until and paused.changed_by == "bob"
    assert paused.state(clock.now_ms()) == "paused" and paused.holds(clock.now_ms())
    assert paused.version is not None and stopped.version is not None and paused.version > stopped.version
    started = switch.start("carol")
    assert switch.status() == started and started.running and started.paused_until is None
    assert started.version is not None and started.version > paused.version


def test_versions_rise_strictly_even_within_one_millisecond(clocked: tuple[QueueSwitch, ManualClock]) -> None:
    switch, _ = clocked
    versions = [s.version for s in (switch.stop("a"), switch.start("a"), switch.stop("a"))]
    assert versions == sorted(set(versions)) and len(versions) == 3  # type: ignore[type-var]


def test_a_pause_ends_only_when_due_and_only_once(clocked: tuple[QueueSwitch, ManualClock]) -> None:
    switch, clock = clocked
    until = clock.now_ms() + 5000
    switch.pause("alice", until)
    assert not switch.resume_if_due(clock.now_ms())
    assert not switch.status().running
    clock.advance(5)
    with ThreadPoolExecutor(4) as pool:
        won = list(pool.map(lambda _: switch.resume_if_due(clock.now_ms()), range(4)))
    assert won.count(True) == 1
    status = switch.status()
    assert status.running and status.paused_until is None and status.changed_by == ENGINE
    assert not switch.resume_if_due(clock.now_ms())


def test_a_stop_is_not_ended_as_if_it_were_a_pause(clocked: tuple[QueueSwitch, ManualClock]) -> None:
    switch, clock = clocked
    switch.stop("alice")
    clock.advance(86_400)
    assert not switch.resume_if_due(clock.now_ms())
    assert switch.status().state(clock.now_ms()) == "stopped"
