"""The accounts side's stores' contract (chalicelib/auth/ports.py), run against the in-memory
fakes (tests/fakes/auth.py) and the DynamoDB implementations (chalicelib/persistence/, on
moto): the rate limits' counters."""

from __future__ import annotations

import uuid

import pytest

from chalicelib.auth.ports import RateCounters
from tests.fakes.auth import FakeRateCounters

NOW_S = 1_900_000_000


@pytest.fixture(params=["fake", "dynamodb"])
def counters(request: pytest.FixtureRequest) -> RateCounters:
    if request.param == "fake":
        return FakeRateCounters()
    request.getfixturevalue("emulator")
    from chalicelib.persistence.ratelimits import DynamoRateCounters

    return DynamoRateCounters()


def _key() -> str:
    return f"test#{uuid.uuid4().hex}"


def test_add_counts_and_sets_the_expiry(counters: RateCounters) -> None:
    key = _key()
    assert counters.add(key, 1, NOW_S + 60) == 1
    assert counters.add(key, 3, NOW_S + 120) == 4
    assert counters.expiry(key) == NOW_S + 120
    assert counters.expiry(_key()) is None


def test_a_window_opens_once_and_counts_while_open(counters: RateCounters) -> None:
    key = _key()
    assert counters.add_if_open(key, NOW_S) is None  # no window yet: nothing made
    assert counters.expiry(key) is None
    assert counters.open(key, NOW_S + 60, NOW_S)
    assert not counters.open(key, NOW_S + 90, NOW_S)  # one is open: left alone
    assert counters.add_if_open(key, NOW_S) == 2
    assert counters.add_if_open(key, NOW_S + 59.5) == 3
    assert counters.add_if_open(key, NOW_S + 60) is None  # closed at its expiry
    assert counters.open(key, NOW_S + 200, NOW_S + 60)  # a closed window is opened afresh
    assert counters.add_if_open(key, NOW_S + 60) == 2


def test_take_back_stops_at_zero(counters: RateCounters) -> None:
    key = _key()
    counters.add(key, 1, NOW_S + 60)
    counters.take_back(key)
    counters.take_back(key)
    assert counters.add(key, 0, NOW_S + 60) == 0
    counters.take_back(_key())  # no counter: nothing happens


def test_put_and_drop(counters: RateCounters) -> None:
    key = _key()
    counters.put(key, 7, NOW_S + 30)
    assert counters.add(key, 1, NOW_S + 30) == 8
    counters.put(key, 2, NOW_S + 10)
    assert counters.expiry(key) == NOW_S + 10 and counters.add(key, 0, NOW_S + 10) == 2
    counters.drop(key)
    counters.drop(key)
    assert counters.expiry(key) is None
