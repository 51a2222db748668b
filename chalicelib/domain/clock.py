"""The one clock: what services read the time from, injected so tests can set it.

``now_ms`` is wall-clock time (epoch milliseconds: what is stored, compared with stored
times and shown); ``monotonic`` is seconds for measuring intervals (pacing, deadlines,
progress windows), which a wall clock stepped by NTP must not disturb.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real time (the composition root's clock)."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)

    def monotonic(self) -> float:
        return time.monotonic()


SYSTEM_CLOCK: Clock = SystemClock()


class Deadline:
    """A time budget (``seconds`` from now, on a monotonic clock): work checks ``passed``
    between steps and leaves the rest for later (API Gateway's 29 s, a worker's visibility)."""

    def __init__(self, seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._end = monotonic() + seconds

    @property
    def passed(self) -> bool:
        return self._monotonic() >= self._end
