"""Rate limits: requests per user per minute, and the brute-force lock on logins.

Fixed one-minute windows counted in DynamoDB (an atomic ADD per request), so every Lambda
sandbox and every local process share them. Items expire by TTL shortly after their window.

Logins: each failure counts against the account (the username tried, whether it exists or
not) and against the client (its source address). The fifth failure within a window locks
that account or client for a minute: every login attempt it makes answers 429 with
Retry-After, the right password included.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist

from ..models import RateLimitModel

WINDOW_SECONDS = 60
MAX_FAILED_LOGINS = 5
LOCK_SECONDS = 60
_GRACE_SECONDS = 120  # items outlive their window by this much before the TTL removes them


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the window ends
    retry_after: int  # seconds; 0 when allowed

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def _window(self) -> tuple[int, int]:
        now = self._clock()
        start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        return start, start + WINDOW_SECONDS

    def _add(self, key: str, expires_at: int) -> int:
        item = RateLimitModel(key)
        item.update(actions=[
            RateLimitModel.hits.add(1),
            RateLimitModel.expires.set(datetime.fromtimestamp(expires_at + _GRACE_SECONDS, tz=UTC)),
        ])
        return int(item.hits)

    def hit(self, bucket: str, subject: str, limit: int) -> Verdict:
        """Count one request of ``subject`` against ``limit`` per window."""
        start, end = self._window()
        count = self._add(f"{bucket}#{subject}#{start}", end)
        retry = max(1, end - int(self._clock()))
        return Verdict(count <= limit, limit, max(0, limit - count), end, 0 if count <= limit else retry)

    # -- logins -----------------------------------------------------------------------------
    def login_locked(self, account: str, client: str) -> int:
        """Seconds until ``account`` and ``client`` may try to log in again; 0 when they may now."""
        now = self._clock()
        wait = 0.0
        for subject in (f"account:{account}", f"client:{client}"):
            try:
                lock = RateLimitModel.get(f"login-lock#{subject}", consistent_read=True)
            except DoesNotExist:
                continue
            until = lock.expires.timestamp() - _GRACE_SECONDS
            wait = max(wait, until - now)
        return int(wait + 0.999) if wait > 0 else 0

    def login_failed(self, account: str, client: str) -> int:
        """Count a failed login; seconds of the lock it starts (0 when none starts)."""
        start, end = self._window()
        locked = 0
        for subject in (f"account:{account}", f"client:{client}"):
            if self._add(f"login-fail#{subject}#{start}", end) >= MAX_FAILED_LOGINS:
                until = int(self._clock()) + LOCK_SECONDS
                RateLimitModel(
                    f"login-lock#{subject}", hits=1,
                    expires=datetime.fromtimestamp(until + _GRACE_SECONDS, tz=UTC),
                ).save()
                locked = LOCK_SECONDS
        return locked

    def login_succeeded(self, account: str) -> None:
        """A good password clears the account's failures (not the client's)."""
        start, _ = self._window()
        RateLimitModel(f"login-fail#account:{account}#{start}").delete()
