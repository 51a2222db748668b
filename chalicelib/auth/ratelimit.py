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

from dataclasses import dataclass

from ..api.errors import TooManyRequests
from ..domain.clock import SYSTEM_CLOCK, Clock
from .ports import RateCounters

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
    def __init__(self, counters: RateCounters, clock: Clock = SYSTEM_CLOCK) -> None:
        self.counters = counters
        self._clock = clock

    def _now(self) -> float:
        """Now, in epoch seconds."""
        return self._clock.now_ms() / 1000

    def _window(self) -> tuple[int, int]:
        now = self._now()
        start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        return start, start + WINDOW_SECONDS

    def _add(self, key: str, expires_at: int, cost: int = 1) -> int:
        return self.counters.add(key, cost, expires_at + _GRACE_SECONDS)

    def hit(self, bucket: str, subject: str, limit: int, cost: int = 1) -> Verdict:
        """Count one request of ``subject`` (worth ``cost``) against ``limit`` per window."""
        start, end = self._window()
        count = self._add(f"{bucket}#{subject}#{start}", end, cost)
        retry = max(1, end - int(self._now()))
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
        self.counters.drop(f"login-try#{pair}")
        self.counters.drop(f"login-strikes#{pair}")
        self.counters.take_back(f"login-try#{client_subject}")

    def _count_attempt(self, key: str) -> int:
        """Add one to the attempts counted under ``key`` in its window, which starts at its first
        attempt and lasts WINDOW_SECONDS (a burst cannot straddle two fixed windows)."""
        for _ in range(5):
            now = self._now()
            open_until = now + _GRACE_SECONDS
            count = self.counters.add_if_open(key, open_until)
            if count is not None:
                return count
            # no window is open: this attempt opens one
            if self.counters.open(key, int(now) + WINDOW_SECONDS + _GRACE_SECONDS, open_until):
                return 1
        raise TooManyRequests("too many logins at once; try again", 1)

    def _locked(self, subject: str) -> int:
        """Seconds left of ``subject``'s lock (0: none)."""
        expires = self.counters.expiry(f"login-lock#{subject}")
        if expires is None:
            return 0
        wait = expires - _GRACE_SECONDS - self._now()
        return int(wait + 0.999) if wait > 0 else 0

    def _lock(self, subject: str) -> int:
        """Lock ``subject``: twice as long as its last lock within a day; the lock's seconds."""
        strikes = self._add(f"login-strikes#{subject}", int(self._now()) + STRIKE_MEMORY_SECONDS)
        seconds = lock_seconds(strikes)
        until = int(self._now()) + seconds
        self.counters.put(f"login-lock#{subject}", strikes, until + _GRACE_SECONDS)
        return seconds


def lock_seconds(strikes: int) -> int:
    """How long the ``strikes``-th lock of a subject lasts: 60 s, 120 s, 240 s, ... at most an hour."""
    return min(MAX_LOCK_SECONDS, LOCK_SECONDS * 2 ** min(max(strikes, 1) - 1, 16))
