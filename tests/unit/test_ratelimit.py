"""The rate limiter's rules on in-memory counters (tests/fakes/auth.py): request windows, the
login lock per (account, client) and per client, doubling locks, a good password's reset."""

from __future__ import annotations

from chalicelib.auth.ratelimit import (
    LOCK_SECONDS,
    MAX_CLIENT_ATTEMPTS,
    MAX_LOGIN_ATTEMPTS,
    WINDOW_SECONDS,
    RateLimiter,
)
from tests.fakes.auth import FakeRateCounters
from tests.fakes.clock import ManualClock


def limiter(start_s: int = 1_900_000_040) -> tuple[RateLimiter, ManualClock]:
    clock = ManualClock(start_s * 1000)
    return RateLimiter(FakeRateCounters(), clock), clock


def test_requests_are_counted_per_fixed_window() -> None:
    rl, clock = limiter()
    verdicts = [rl.hit("requests", "u1", 3) for _ in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[2].remaining == 0 and verdicts[3].retry_after == 40  # the window ends at ...:00 + 60
    assert rl.hit("requests", "u2", 3).allowed  # per subject
    clock.advance(40)
    assert rl.hit("requests", "u1", 3).count == 1  # a new window
    assert rl.hit("ws", "c1", 10, cost=7).remaining == 3


def test_each_lock_of_a_pair_lasts_twice_as_long_and_is_not_everyones() -> None:
    rl, clock = limiter()
    waits = []
    for _ in range(3):
        attempts = [rl.login_attempt("dora", "192.0.2.77") for _ in range(MAX_LOGIN_ATTEMPTS + 1)]
        assert attempts[:MAX_LOGIN_ATTEMPTS] == [0] * MAX_LOGIN_ATTEMPTS
        waits.append(attempts[-1])
        assert rl.login_attempt("dora", "192.0.2.77") == waits[-1]  # locked: not counted, told to wait
        clock.advance(waits[-1] + 1)
    assert waits == [LOCK_SECONDS, 2 * LOCK_SECONDS, 4 * LOCK_SECONDS]
    assert rl.login_attempt("dora", "192.0.2.78") == 0


def test_a_window_starts_at_its_first_attempt() -> None:
    rl, clock = limiter()
    for _ in range(MAX_LOGIN_ATTEMPTS - 1):
        assert rl.login_attempt("erin", "192.0.2.5") == 0
    clock.advance(WINDOW_SECONDS - 1)
    assert rl.login_attempt("erin", "192.0.2.5") == 0  # the fifth, still in the window
    assert rl.login_attempt("erin", "192.0.2.5") == LOCK_SECONDS  # the sixth
    rl2, clock2 = limiter()
    for _ in range(MAX_LOGIN_ATTEMPTS):
        rl2.login_attempt("erin", "192.0.2.5")
    clock2.advance(WINDOW_SECONDS)
    assert rl2.login_attempt("erin", "192.0.2.5") == 0  # the window closed: a new one


def test_a_good_password_clears_its_pair_and_gives_back_its_client_count() -> None:
    rl, _ = limiter()
    for _ in range(MAX_LOGIN_ATTEMPTS):
        assert rl.login_attempt("fay", "192.0.2.9") == 0
    rl.login_succeeded("fay", "192.0.2.9")
    assert rl.login_attempt("fay", "192.0.2.9") == 0  # the pair starts afresh
    counters = rl.counters
    assert isinstance(counters, FakeRateCounters)
    assert counters.items["login-try#client:192.0.2.9"].count == MAX_LOGIN_ATTEMPTS  # 5 + 1 - 1


def test_one_client_trying_many_accounts_meets_its_own_limit() -> None:
    rl, _ = limiter()
    waits = [rl.login_attempt(f"user{i}", "192.0.2.200") for i in range(MAX_CLIENT_ATTEMPTS + 1)]
    assert waits[:MAX_CLIENT_ATTEMPTS] == [0] * MAX_CLIENT_ATTEMPTS
    assert waits[-1] == LOCK_SECONDS
    assert rl.login_attempt("someone-else", "192.0.2.201") == 0
