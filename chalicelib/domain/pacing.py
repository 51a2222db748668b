"""Speed limits: how long a reader must wait so that it reads no faster than its limit.

Pure: the pacer is told how many bytes were read and what time it is, and answers how many
seconds to wait; whoever reads does the waiting (chalicelib/adapters/origin.py). A download's limit is
shared between its lanes (:func:`lane_share`), and the lane's progress writes bring the
download's current limit back from DynamoDB, so a changed limit applies within about a second.
"""

from __future__ import annotations

# Reads are cut to about this fraction of a second's worth of bytes, so that the rate is
# smooth rather than a full read followed by a long wait.
SLICES_PER_SECOND = 8
MIN_READ = 4 * 1024
# A reader that has fallen behind its limit may catch up by at most this many seconds' worth.
BURST_SECONDS = 0.5


def effective_limit(task_limit: int | None, default_limit: int) -> int:
    """The download's limit in bytes per second (0: none): its own, else the settings' default."""
    limit = default_limit if task_limit is None else task_limit
    return max(0, int(limit))


def lane_share(limit: int, lanes: int, floor: float = 0.0) -> float:
    """One lane's share of a download's ``limit`` (0: none), at least ``floor`` bytes/s (a part
    must still finish within the worker's time limit)."""
    if limit <= 0:
        return 0.0
    return max(limit / max(1, lanes), floor)


class Pacer:
    """Keeps a reader at or under ``rate`` bytes per second (0: no limit)."""

    def __init__(self, rate: float = 0.0, burst: float = BURST_SECONDS) -> None:
        self._rate = max(0.0, float(rate))
        self._burst = burst
        self._start: float | None = None
        self._bytes = 0

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def active(self) -> bool:
        return self._rate > 0

    def set_rate(self, rate: float) -> None:
        """Adopt a new rate from now on (what was read before does not count against it)."""
        rate = max(0.0, float(rate))
        if rate != self._rate:
            self._rate = rate
            self._start = None
            self._bytes = 0

    def read_size(self, default: int) -> int:
        """How many bytes to ask for in one read."""
        if not self.active:
            return default
        return max(MIN_READ, min(default, int(self._rate / SLICES_PER_SECOND)))

    def wait(self, n: int, now: float) -> float:
        """``n`` more bytes were read at ``now`` (seconds, any monotonic clock): how long to wait
        before reading more."""
        if not self.active:
            return 0.0
        if self._start is None:
            # The first read of a window is free: the clock starts when it arrives.
            self._start, self._bytes = now, 0
            return 0.0
        self._bytes += n
        due = self._start + self._bytes / self._rate
        ahead = due - now
        if ahead < -self._burst:
            # Slower than the limit for a while (a slow origin, a wait for a connection): do
            # not save up the unused allowance for a burst later.
            self._start = now - self._burst - self._bytes / self._rate
            return 0.0
        return max(0.0, ahead)
