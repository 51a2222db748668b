"""What the setup wizard remembers (a control-table item): which optional checks worked."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DoesNotExist

from ..persistence.models import ControlModel
from ..persistence.repository import now_ms

ITEM = "setup-wizard"


class SetupMarks:
    def read(self) -> dict[str, Any]:
        try:
            data = ControlModel.get(ITEM, consistent_read=True).data
        except DoesNotExist:
            return {}
        return dict(data) if isinstance(data, dict) else {}

    def note(self, step: str) -> None:
        marks = self.read()
        marks[step] = now_ms()
        ControlModel(ITEM, data=marks, updated_at=now_ms()).save()
