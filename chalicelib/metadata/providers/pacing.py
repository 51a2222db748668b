"""A rate limit shared by every function that calls a provider (Lambda runs many at once).

Each request reserves the next free slot of its provider: a slot is one interval
(1 / requests per second) after the one before. The slots live in one item per provider
(``next_at``, epoch ms), reserved with a conditional write (:class:`SlotStore`), so two
sandboxes never take the same slot; the caller then waits until its slot comes. A slot
further away than ``max_wait`` is not taken: the caller answers 503 with ``Retry-After``
instead of holding an API Gateway request (29 s) for it.

An in-process pacer alone would let each sandbox send MusicBrainz 1 request/s, so ten
concurrent sandboxes would send ten; the shared item is the one place the rate is counted.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Protocol

from .errors import ProviderBusy


class SlotStore(Protocol):
    def next_slot(self, name: str) -> int | None:
        """The provider's next free slot (epoch ms), None before its first request."""

    def claim_slot(self, name: str, seen: int | None, following: int) -> bool:
        """Move the next free slot from ``seen`` to ``following``; False if another caller
        moved it first."""


class MemorySlots:
    """Slots in this process (unit tests, and a fallback nothing else shares)."""

    def __init__(self) -> None:
        self._slots: dict[str, int] = {}
        self._lock = threading.Lock()

    def next_slot(self, name: str) -> int | None:
        with self._lock:
            return self._slots.get(name)

    def claim_slot(self, name: str, seen: int | None, following: int) -> bool:
        with self._lock:
            if self._slots.get(name) != seen:
                return False
            self._slots[name] = following
            return True


def interval_ms(requests_per_second: float) -> int:
    return max(1, math.ceil(1000.0 / max(0.001, requests_per_second)))


class SharedPacer:
    ATTEMPTS = 20

    def __init__(self, slots: SlotStore, clock_ms: Callable[[], int] | None = None,
                 sleep: Callable[[float], None] = time.sleep, max_wait_seconds: float = 10.0) -> None:
        self._slots = slots
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self._sleep = sleep
        self.max_wait_ms = int(max_wait_seconds * 1000)

    def reserve(self, name: str, requests_per_second: float) -> int:
        """Reserve the next slot of ``name``; how many ms from now it comes (0: now)."""
        step = interval_ms(requests_per_second)
        for _ in range(self.ATTEMPTS):
            now = self._clock_ms()
            seen = self._slots.next_slot(name)
            slot = max(now, seen or 0)
            wait = slot - now
            if wait > self.max_wait_ms:
                raise ProviderBusy(f"{name}: its rate limit ({requests_per_second:g} requests/s) leaves no slot for "
                                   f"{wait / 1000:.0f} s; try again later", math.ceil(wait / 1000))
            if self._slots.claim_slot(name, seen, slot + step):
                return wait
        raise ProviderBusy(f"{name}: too many requests at once; try again", 1)

    def wait(self, name: str, requests_per_second: float) -> None:
        """Reserve a slot and sleep until it comes."""
        wait = self.reserve(name, requests_per_second)
        if wait > 0:
            self._sleep(wait / 1000.0)
