"""Exponential backoff with full jitter, honouring Retry-After."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from chalicelib.domain.backoff import MAX_DELAY, RetryPolicy, parse_retry_after

NOW = 1_700_000_000.0


def test_exhausted_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert [policy.exhausted(n) for n in (1, 2, 3, 4)] == [False, False, True, True]
    assert RetryPolicy(max_attempts=1).exhausted(1)


def test_ceiling_doubles_from_base_up_to_cap() -> None:
    policy = RetryPolicy(base=1.0, cap=30.0)
    top = [policy.delay(n, rand=lambda: 1.0) for n in range(1, 9)]
    assert top == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_attempt_zero_or_below_uses_the_base() -> None:
    policy = RetryPolicy(base=2.0, cap=60.0)
    assert policy.delay(0, rand=lambda: 1.0) == 2.0
    assert policy.delay(-3, rand=lambda: 1.0) == 2.0


def test_full_jitter_stays_within_zero_and_the_ceiling() -> None:
    policy = RetryPolicy(base=0.5, cap=20.0)
    rng = random.Random(3)
    for attempt in range(1, 30):
        ceiling = min(20.0, 0.5 * 2 ** (attempt - 1))
        draws = [policy.delay(attempt, rand=rng.random) for _ in range(50)]
        assert all(0.0 <= d <= ceiling for d in draws)
    assert policy.delay(5, rand=lambda: 0.0) == 0.0


def test_jitter_actually_spreads_the_delays() -> None:
    rng = random.Random(11)
    draws = {round(RetryPolicy(cap=100.0).delay(6, rand=rng.random), 3) for _ in range(100)}
    assert len(draws) > 50


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base=1.0, cap=10.0)
    assert policy.delay(1, retry_after=42.0, rand=lambda: 0.0) == 42.0
    # A short Retry-After does not shorten the backoff.
    assert policy.delay(4, retry_after=1.0, rand=lambda: 1.0) == 8.0
    # Retry-After may exceed the policy's cap...
    assert policy.delay(1, retry_after=300.0, rand=lambda: 1.0) == 300.0


def test_no_delay_exceeds_what_sqs_can_delay() -> None:
    assert RetryPolicy(cap=5000.0).delay(30, rand=lambda: 1.0) == MAX_DELAY
    assert RetryPolicy().delay(1, retry_after=86_400.0) == MAX_DELAY == 900.0


def test_negative_retry_after_never_makes_a_negative_delay() -> None:
    assert RetryPolicy().delay(1, retry_after=-50.0, rand=lambda: 0.0) == 0.0


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(base=1.0, cap=120.0)
    assert policy.delay(10_000, rand=lambda: 1.0) == 120.0
    assert 0 <= policy.delay(10**9, rand=random.Random(1).random) <= 120.0


# -- Retry-After -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"), [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("86400", 86400.0)]
)
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_retry_after_as_an_http_date() -> None:
    assert parse_retry_after(formatdate(NOW + 90, usegmt=True), NOW) == pytest.approx(90.0)


@pytest.mark.parametrize(
    "value",
    [
        "Sun, 06 Nov 1994 08:49:37 GMT",  # IMF-fixdate
        "Sunday, 06-Nov-94 08:49:37 GMT",  # obsolete RFC 850
        "Sun Nov  6 08:49:37 1994",  # obsolete asctime
    ],
)
def test_retry_after_accepts_every_http_date_format(value: str) -> None:
    when = 784111777.0  # 1994-11-06T08:49:37Z
    assert parse_retry_after(value, when - 30) == pytest.approx(30.0)


def test_a_date_in_the_past_means_now() -> None:
    assert parse_retry_after(formatdate(NOW - 3600, usegmt=True), NOW) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "-5", "+5", "1.5", "1e3", "²", "١٢x", "Mon, 99 Foo"])
def test_unreadable_retry_after_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_parsed_retry_after_feeds_the_policy() -> None:
    wait = parse_retry_after(formatdate(NOW + 30, usegmt=True), NOW)
    assert RetryPolicy(base=1.0, cap=5.0).delay(1, wait, rand=lambda: 0.5) == pytest.approx(30.0)
