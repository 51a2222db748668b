"""Rate limits that hold across Lambda invocations (chalicelib/realtime/ports.py ``Throttle``):
a "last sent" time in the control table.

The fan-out runs as many short invocations, so "at most every 500 ms" cannot live in process
memory: :meth:`DynamoThrottle.acquire` is a conditional write that only one invocation per
interval wins.
"""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from ..domain.clock import SYSTEM_CLOCK, Clock
from .conditions import condition_failed
from .models import ControlModel


def _key(name: str) -> str:
    return f"throttle#{name}"


class DynamoThrottle:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock

    def acquire(self, name: str, interval_ms: int) -> bool:
        """True (and the time is recorded) if nothing was sent under ``name`` for ``interval_ms``."""
        now = self._clock.now_ms()
        try:
            ControlModel(_key(name)).update(
                actions=[ControlModel.updated_at.set(now)],
                condition=ControlModel.updated_at.does_not_exist() | (ControlModel.updated_at <= now - interval_ms),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def mark(self, name: str) -> None:
        """Record a send that happened regardless of the interval."""
        ControlModel(_key(name)).update(actions=[ControlModel.updated_at.set(self._clock.now_ms())])
