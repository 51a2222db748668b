"""The dispatcher's waiting list (chalicelib/engine/dispatcher.py ``WaitingList``), run against
the in-memory fake (tests/fakes/engine.py ``FakeWaiting``) and the DynamoDB implementation
(chalicelib/persistence/waiting.py ``WaitingOwners``, on moto), both on a clock the test sets,
so the fake the dispatcher's unit tests use notes, serves and forgets as the real item does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from chalicelib.domain.fairness import FORGET_AFTER_MS, NOTE_EVERY
from chalicelib.engine.dispatcher import WaitingList
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeWaiting


@pytest.fixture(params=["fake", "dynamodb"])
def clocked(request: pytest.FixtureRequest) -> Iterator[tuple[WaitingList, ManualClock]]:
    clock = ManualClock()
    if request.param == "fake":
        yield FakeWaiting(clock), clock
        return
    request.getfixturevalue("emulator")
    from chalicelib.config import Config
    from chalicelib.container import dynamodb_client
    from chalicelib.persistence.waiting import WaitingOwners

    config = Config.from_env()
    # An item of its own: the process's waiting list is the functional tests' dispatcher's.
    yield WaitingOwners(dynamodb_client(config), config.control_table, clock, key=f"waiting-{uuid.uuid4().hex}"), clock


def test_an_owner_is_noted_at_most_once_per_interval(clocked: tuple[WaitingList, ManualClock]) -> None:
    waiting, clock = clocked
    assert waiting.read().noted == {}
    first = clock.now_ms()
    waiting.note("alice")
    clock.advance(NOTE_EVERY / 2)
    waiting.note("alice")  # noted a moment ago: no write
    waiting.note("bob")
    assert waiting.read().noted == {"alice": first, "bob": clock.now_ms()}
    clock.advance(NOTE_EVERY)
    waiting.note("alice")  # the interval is over: noted again, at the new time
    assert waiting.read().noted["alice"] == clock.now_ms()


def test_serving_records_when(clocked: tuple[WaitingList, ManualClock]) -> None:
    waiting, clock = clocked
    waiting.note("alice")
    waiting.mark_served(["alice", "carol"])
    waiting.mark_served(["bob"], at=123)
    assert waiting.read().served == {"alice": clock.now_ms(), "carol": clock.now_ms(), "bob": 123}
    waiting.mark_served([])


def test_an_owner_is_forgotten_only_on_the_note_read_and_once_it_is_old(
    clocked: tuple[WaitingList, ManualClock],
) -> None:
    waiting, clock = clocked
    waiting.note("alice")
    waiting.mark_served(["alice"])
    noted = waiting.read().noted["alice"]
    assert not waiting.forget("alice", noted)  # too recent: an add may have raced it
    clock.advance(FORGET_AFTER_MS / 1000 + 1)
    assert not waiting.forget("alice", noted - 1)  # not the note read
    assert waiting.forget("alice", noted)
    after = waiting.read()
    assert "alice" not in after.noted and "alice" not in after.served
    waiting.note("alice")  # noted again at once after being forgotten
    assert waiting.read().noted == {"alice": clock.now_ms()}
