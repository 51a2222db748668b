"""Per-host connection slots in the control table (chalicelib/engine/hostslots.py ``HostSlots``).

The item ``host#<host>`` holds ``slots``, a map slot id -> lease expiry (epoch seconds). A
worker about to open a connection to the host acquires a slot with one conditional UpdateItem
(``size(slots) < :limit OR attribute_exists(slots.<id>)``: there is room, or the slot is its
own already, which makes acquiring again a renewal). When that fails it reads the item,
removes the slots whose lease ran out (a worker that died holding one), each on condition that
it is still the expired lease, and tries once more. Releasing removes the slot.
"""

from __future__ import annotations

import logging

from pynamodb.attributes import MapAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.models import Model

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..engine.hostslots import LEASE_SECONDS
from .conditions import condition_failed
from .models import ControlModel

log = logging.getLogger("haul.hosts")


class HostSlotItem(Model):
    """``host#<host>``: the connections to one origin host that workers hold now."""

    class Meta(ControlModel.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    slots = MapAttribute(null=True)  # type: ignore[var-annotated]


def host_key(host: str) -> str:
    return f"host#{host.lower()}"


class DynamoHostSlots:
    def __init__(self, clock: Clock = SYSTEM_CLOCK, lease_seconds: int = LEASE_SECONDS) -> None:
        self._clock = clock
        self.lease_seconds = lease_seconds

    def _now(self) -> float:
        return self._clock.now_ms() / 1000

    def acquire(self, host: str, slot: str, limit: int) -> bool:
        """Take (or renew) ``slot`` among at most ``limit`` for ``host``; False when all are taken."""
        if limit <= 0:
            return True
        if self._take(host, slot, limit):
            return True
        now = self._now()
        try:
            item = HostSlotItem.get(host_key(host), consistent_read=True)
        except DoesNotExist:
            item = None
        if item is None or item.slots is None:
            # The first connection to this host: make the map, with this slot in it.
            try:
                HostSlotItem(host_key(host), slots={slot: int(now) + self.lease_seconds}).save(
                    condition=HostSlotItem.pk.does_not_exist() | HostSlotItem.slots.does_not_exist()
                )
                return True
            except PutError as exc:
                if not condition_failed(exc):
                    raise
            return self._take(host, slot, limit)
        held = {str(k): float(v) for k, v in (item.slots.as_dict() if item.slots is not None else {}).items()}
        expired = {k: v for k, v in held.items() if v < now}
        if len(held) - len(expired) >= limit:
            return False
        for other, lease in expired.items():
            try:
                HostSlotItem(host_key(host)).update(
                    actions=[HostSlotItem.slots[other].remove()],
                    condition=HostSlotItem.slots[other] == int(lease),
                )
                log.info("host %s: slot %s's lease ran out; freed it", host, other)
            except UpdateError as exc:
                if not condition_failed(exc):
                    raise
        return self._take(host, slot, limit)

    def _take(self, host: str, slot: str, limit: int) -> bool:
        expires = int(self._now()) + self.lease_seconds
        try:
            HostSlotItem(host_key(host)).update(
                actions=[HostSlotItem.slots[slot].set(expires)],
                # (size() is guarded by exists(): DynamoDB finds no size of a missing map and the
                # condition false; moto's emulator fails the request instead.)
                condition=(HostSlotItem.slots.exists() & (size(HostSlotItem.slots) < limit))
                | HostSlotItem.slots[slot].exists(),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def release(self, host: str, slot: str) -> None:
        try:
            HostSlotItem(host_key(host)).update(
                actions=[HostSlotItem.slots[slot].remove()],
                condition=HostSlotItem.pk.exists(),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                log.warning("host %s: could not release slot %s: %s", host, slot, exc)

    def held(self, host: str) -> dict[str, int]:
        """The slots held now (for tests and diagnostics)."""
        try:
            item = HostSlotItem.get(host_key(host), consistent_read=True)
        except DoesNotExist:
            return {}
        return {str(k): int(v) for k, v in (item.slots.as_dict() if item.slots is not None else {}).items()}
