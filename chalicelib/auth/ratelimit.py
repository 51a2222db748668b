"""Rate limits: requests per user per minute, and the brute-force lock on logins.

Fixed one-minute windows counted in DynamoDB (an atomic ADD per request), so every Lambda
sandbox and every local process share them. Items expire by TTL shortly after their window.

Logins (docs/security.md): every attempt is counted *before* its password is checked, with an
atomic ADD whose answer decides whether the check may run at all, so any number of parallel
guesses gets at most ``MAX_LOGIN_ATTEMPTS`` password checks per window. The counters are kept
per (account, client) pair, and per client over every account it tries (a looser limit,
``MAX_CLIENT_ATTEMPTS``: an office behind one address shares it). Going over a limit locks
that pair or that client, never the account for everyone: the first lock lasts
``LOCK_SECONDS``, each further lock of the same subject within a day twice as long as the
one before, up to ``MAX_LOCK_SECONDS``. A good password clears its pair and takes back its
own count from the client's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from ..api.errors import TooManyRequests
from ..persistence.conditions import condition_failed
from ..persistence.models import RateLimitModel

WINDOW_SECONDS = 60
MAX_LOGIN_ATTEMPTS = 5  # per (account, client) pair and window
MAX_CLIENT_ATTEMPTS = 20  # per client over every account, per window
LOCK_SECONDS = 60  # the first lock; each further one within STRIKE_MEMORY_SECONDS doubles
MAX_LOCK_SECONDS = 3600
STRIKE_MEMORY_SECONDS = 24 * 3600
_GRACE_SECONDS = 120  # items outlive their window by this much before the TTL removes them


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when the window ends
    retry_after: int  # seconds; 0 when allowed
    count: int = 0  # what the window has counted, this request included

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

    def _add(self, key: str, expires_at: int, cost: int = 1) -> int:
        item = RateLimitModel(key)
        item.update(actions=[
            RateLimitModel.hits.add(cost),
            RateLimitModel.expires.set(datetime.fromtimestamp(expires_at + _GRACE_SECONDS, tz=UTC)),
        ])
        return int(item.hits)

    def hit(self, bucket: str, subject: str, limit: int, cost: int = 1) -> Verdict:
        """Count one request of ``subject`` (worth ``cost``) against ``limit`` per window."""
        start, end = self._window()
        count = self._add(f"{bucket}#{subject}#{start}", end, cost)
        retry = max(1, end - int(self._clock()))
        return Verdict(count <= limit, limit, max(0, limit - count), end, 0 if count <= limit else retry, count)

    # -- logins -----------------------------------------------------------------------------
    @staticmethod
    def _login_subjects(account: str, client: str) -> tuple[tuple[str, int], tuple[str, int]]:
        return (f"pair:{account}|{client}", MAX_LOGIN_ATTEMPTS), (f"client:{client}", MAX_CLIENT_ATTEMPTS)

    def login_attempt(self, account: str, client: str) -> int:
        """Count one login attempt of ``account`` from ``client``, before its password is checked.

        Seconds to wait when the password may not be checked now (a lock, or this attempt is
        over a limit and starts one); 0 when it may."""
        subjects = self._login_subjects(account, client)
        wait = max(self._locked(subject) for subject, _ in subjects)
        if wait:
            return wait
        for subject, limit in subjects:
            count = self._count_attempt(f"login-try#{subject}")
            if count > limit:
                # Only the attempt that crosses the limit starts a lock (and adds a strike);
                # those racing past it wait for that lock.
                return self._lock(subject) if count == limit + 1 else max(1, self._locked(subject) or LOCK_SECONDS)
        return 0

    def login_succeeded(self, account: str, client: str) -> None:
        """A good password: its pair starts afresh, and its attempt no longer counts for the client."""
        pair, client_subject = (subject for subject, _ in self._login_subjects(account, client))
        RateLimitModel(f"login-try#{pair}").delete()
        RateLimitModel(f"login-strikes#{pair}").delete()
        try:
            RateLimitModel(f"login-try#{client_subject}").update(
                actions=[RateLimitModel.hits.add(-1)], condition=RateLimitModel.hits > 0)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise

    def _count_attempt(self, key: str) -> int:
        """Add one to the attempts counted under ``key`` in its window, which starts at its first
        attempt and lasts WINDOW_SECONDS (a burst cannot straddle two fixed windows)."""
        for _ in range(5):
            now = self._clock()
            open_until = datetime.fromtimestamp(now + _GRACE_SECONDS, tz=UTC)
            try:
                item = RateLimitModel(key)
                item.update(actions=[RateLimitModel.hits.add(1)], condition=RateLimitModel.expires > open_until)
                return int(item.hits)
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise
            try:  # no window is open: this attempt opens one
                RateLimitModel(key, hits=1, expires=datetime.fromtimestamp(
                    int(now) + WINDOW_SECONDS + _GRACE_SECONDS, tz=UTC,
                )).save(condition=RateLimitModel.key.does_not_exist() | (RateLimitModel.expires <= open_until))
                return 1
            except PutError as exc:
                if not condition_failed(exc):
                    raise
        raise TooManyRequests("too many logins at once; try again", 1)

    def _locked(self, subject: str) -> int:
        """Seconds left of ``subject``'s lock (0: none)."""
        try:
            lock = RateLimitModel.get(f"login-lock#{subject}", consistent_read=True)
        except DoesNotExist:
            return 0
        wait = lock.expires.timestamp() - _GRACE_SECONDS - self._clock()
        return int(wait + 0.999) if wait > 0 else 0

    def _lock(self, subject: str) -> int:
        """Lock ``subject``: twice as long as its last lock within a day; the lock's seconds."""
        strikes = self._add(f"login-strikes#{subject}", int(self._clock()) + STRIKE_MEMORY_SECONDS)
        seconds = lock_seconds(strikes)
        until = int(self._clock()) + seconds
        RateLimitModel(
            f"login-lock#{subject}", hits=strikes, expires=datetime.fromtimestamp(until + _GRACE_SECONDS, tz=UTC),
        ).save()
        return seconds


def lock_seconds(strikes: int) -> int:
    """How long the ``strikes``-th lock of a subject lasts: 60 s, 120 s, 240 s, ... at most an hour."""
    return min(MAX_LOCK_SECONDS, LOCK_SECONDS * 2 ** min(max(strikes, 1) - 1, 16))
