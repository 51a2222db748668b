"""Per-host connection limits: a lease semaphore per origin host.

:class:`HostSlots` is what the transfer asks of it: a worker about to open a connection to a
host acquires one of at most ``limit`` slots for it (acquiring a slot it holds already renews
it); a slot whose holder died expires after ``lease_seconds``. A lease is renewed while its
holder keeps reading (:class:`Lease`; chalicelib/transfer/limits.py renews it with its progress
writes), so only a dead holder's slot expires. The DynamoDB implementation, one control-table
item per host, is chalicelib/persistence/hostslots.py ``DynamoHostSlots``.

With no limit (0) the transfer never calls this: no DynamoDB request at all.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("haul.hosts")
LEASE_SECONDS = 60


class HostSlots(Protocol):
    """The connection slots per origin host (chalicelib/persistence/hostslots.py ``DynamoHostSlots``)."""

    @property
    def lease_seconds(self) -> int: ...

    def acquire(self, host: str, slot: str, limit: int) -> bool:
        """Take (or renew) ``slot`` among at most ``limit`` for ``host``; False when all are taken
        (slots whose lease ran out are freed first)."""
        ...

    def release(self, host: str, slot: str) -> None: ...

    def held(self, host: str) -> dict[str, int]:
        """The slots held now, slot -> lease expiry in epoch seconds (tests and diagnostics)."""
        ...


class Lease:
    """One slot held while a connection reads; :meth:`renew` keeps it from expiring."""

    def __init__(
        self, slots: HostSlots, host: str, slot: str, limit: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """``clock``: seconds, for when to renew (the transfer passes its clock's ``monotonic``)."""
        self._slots = slots
        self.host = host
        self.slot = slot
        self.limit = limit
        self._clock = clock
        self._renewed = clock()

    def renew(self) -> None:
        """Extend the lease when half of it has passed (at most one write per half lease)."""
        if self._clock() - self._renewed < self._slots.lease_seconds / 2:
            return
        self._renewed = self._clock()
        try:
            if not self._slots.acquire(self.host, self.slot, self.limit):
                log.warning("host %s: lost slot %s while reading (its lease had run out)", self.host, self.slot)
        except Exception as exc:  # noqa: BLE001 - a failed renewal must not fail the transfer
            log.warning("host %s: could not renew slot %s: %s", self.host, self.slot, exc)

    def release(self) -> None:
        self._slots.release(self.host, self.slot)
