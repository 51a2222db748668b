"""The per-host connection slots' contract (chalicelib/engine/hostslots.py ``HostSlots``), run
against the in-memory fake (tests/fakes/engine.py ``FakeHostSlots``) and the DynamoDB
implementation (chalicelib/persistence/hostslots.py ``DynamoHostSlots``, on moto), so the fake
the transfer's unit tests use behaves as the real store does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from chalicelib.engine.hostslots import HostSlots, Lease
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeHostSlots


@pytest.fixture(params=["fake", "dynamodb"])
def clocked(request: pytest.FixtureRequest) -> Iterator[tuple[HostSlots, ManualClock]]:
    clock = ManualClock()
    if request.param == "fake":
        yield FakeHostSlots(clock, lease_seconds=60), clock
        return
    request.getfixturevalue("emulator")
    from chalicelib.persistence.hostslots import DynamoHostSlots

    yield DynamoHostSlots(clock, lease_seconds=60), clock


def _host() -> str:
    return f"h-{uuid.uuid4().hex[:10]}.example.org"


def test_no_limit_always_admits_and_stores_nothing(clocked: tuple[HostSlots, ManualClock]) -> None:
    hosts, _ = clocked
    host = _host()
    assert hosts.acquire(host, "a#0", 0) and hosts.acquire(host, "b#0", 0)
    assert hosts.held(host) == {}


def test_at_most_limit_slots_and_holding_one_is_a_renewal(clocked: tuple[HostSlots, ManualClock]) -> None:
    hosts, clock = clocked
    host = _host()
    assert hosts.acquire(host, "a#0", 2)
    assert hosts.held(host) == {"a#0": clock.now_ms() // 1000 + 60}
    assert hosts.acquire(host, "b#0", 2)
    assert not hosts.acquire(host, "c#0", 2)
    clock.advance(10)
    assert hosts.acquire(host, "a#0", 2)  # holding it already: a renewal
    assert hosts.held(host)["a#0"] == clock.now_ms() // 1000 + 60
    assert hosts.acquire(host.upper(), "a#1", 3)  # one host, however it is written
    assert set(hosts.held(host)) == {"a#0", "b#0", "a#1"}


def test_a_released_slot_is_free_again(clocked: tuple[HostSlots, ManualClock]) -> None:
    hosts, _ = clocked
    host = _host()
    assert hosts.acquire(host, "a#0", 1)
    assert not hosts.acquire(host, "b#0", 1)
    hosts.release(host, "a#0")
    hosts.release(host, "a#0")  # twice, or a slot never held: nothing happens
    hosts.release(_host(), "x#0")
    assert hosts.acquire(host, "b#0", 1)
    assert set(hosts.held(host)) == {"b#0"}


def test_an_expired_slot_of_a_dead_worker_is_taken_over(clocked: tuple[HostSlots, ManualClock]) -> None:
    hosts, clock = clocked
    host = _host()
    assert hosts.acquire(host, "dead#0", 2)
    assert hosts.acquire(host, "alive#0", 2)
    assert not hosts.acquire(host, "new#0", 2)
    clock.advance(59)
    assert not hosts.acquire(host, "new#0", 2)  # not expired yet
    assert hosts.acquire(host, "alive#0", 2)  # renewed
    clock.advance(2)  # dead#0 was never renewed: its lease ran out
    assert hosts.acquire(host, "new#0", 2)
    assert set(hosts.held(host)) == {"alive#0", "new#0"}
    hosts.release(host, "new#0")
    hosts.release(host, "alive#0")
    assert hosts.held(host) == {}


def test_a_lease_renews_at_half_time_and_releases(clocked: tuple[HostSlots, ManualClock]) -> None:
    hosts, clock = clocked
    host = _host()
    seconds = [0.0]
    lease = Lease(hosts, host, "a#0", 1, clock=lambda: seconds[0])
    assert hosts.acquire(host, lease.slot, 1)
    first = hosts.held(host)["a#0"]
    clock.advance(20)
    seconds[0] += 20
    lease.renew()  # less than half the lease has passed: no write
    assert hosts.held(host)["a#0"] == first
    seconds[0] += 11
    lease.renew()
    assert hosts.held(host)["a#0"] == clock.now_ms() // 1000 + 60
    lease.release()
    assert hosts.held(host) == {}
