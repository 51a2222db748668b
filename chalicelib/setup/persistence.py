"""What the setup wizard remembers (a control-table item): which optional checks worked."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..persistence.models import ControlModel

ITEM = "setup-wizard"


class SetupMarks:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock

    def read(self) -> dict[str, Any]:
        try:
            data = ControlModel.get(ITEM, consistent_read=True).data
        except DoesNotExist:
            return {}
        return dict(data) if isinstance(data, dict) else {}

    def note(self, step: str) -> None:
        marks = self.read()
        now = self._clock.now_ms()
        marks[step] = now
        ControlModel(ITEM, data=marks, updated_at=now).save()
