"""The queue's state item in the control table (chalicelib/engine/queuecontrol.py ``QueueSwitch``).

One item (``pk = "queue"``) holds ``data = {running, paused_until, changed_by, changed_at}``;
no item means running. Every write is a compare-and-swap on the item's ``updated_at``, which
each write raises strictly, so two writers never both win on the same version: in particular
only one of many concurrent kicks ends a timed pause.
"""

from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, PutError

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..engine.queuecontrol import ENGINE, QueueStatus
from .conditions import condition_failed
from .models import ControlModel

QUEUE_KEY = "queue"
# Writers that keep losing the compare-and-swap try this often before giving up.
_ATTEMPTS = 10


class DynamoQueueState:
    def __init__(self, clock: Clock = SYSTEM_CLOCK, key: str = QUEUE_KEY) -> None:
        self._clock = clock
        self.key = key

    def status(self) -> QueueStatus:
        try:
            item = ControlModel.get(self.key, consistent_read=True)
        except DoesNotExist:
            return QueueStatus()
        data = item.data if isinstance(item.data, dict) else {}
        until = data.get("paused_until")
        return QueueStatus(
            running=bool(data.get("running", True)),
            paused_until=int(until) if until is not None else None,
            changed_by=data.get("changed_by"),
            changed_at=data.get("changed_at"),
            version=int(item.updated_at) if item.updated_at is not None else None,
        )

    def _swap(self, seen: QueueStatus, running: bool, paused_until: int | None, actor: str) -> QueueStatus | None:
        """Write the new status if the item is still the one ``seen``; None if it changed."""
        now = self._clock.now_ms()
        version = max(now, (seen.version or 0) + 1)
        data = {"running": running, "paused_until": paused_until, "changed_by": actor, "changed_at": now}
        cond = (
            ControlModel.pk.does_not_exist() if seen.version is None
            else ControlModel.updated_at == seen.version
        )
        try:
            ControlModel(self.key, data=data, updated_at=version).save(condition=cond)
        except PutError as exc:
            if condition_failed(exc):
                return None
            raise
        return QueueStatus(running, paused_until, actor, now, version)

    def _set(self, running: bool, paused_until: int | None, actor: str) -> QueueStatus:
        for _ in range(_ATTEMPTS):
            written = self._swap(self.status(), running, paused_until, actor)
            if written is not None:
                return written
        raise RuntimeError("the queue's state kept changing while it was being set")

    def start(self, actor: str) -> QueueStatus:
        return self._set(True, None, actor)

    def stop(self, actor: str) -> QueueStatus:
        return self._set(False, None, actor)

    def pause(self, actor: str, until_ms: int) -> QueueStatus:
        return self._set(False, until_ms, actor)

    def resume_if_due(self, now: int) -> bool:
        """End a timed pause whose time has come; True only for the one caller that did."""
        seen = self.status()
        if not seen.due(now):
            return False
        return self._swap(seen, True, None, ENGINE) is not None
