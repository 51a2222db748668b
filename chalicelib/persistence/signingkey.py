"""The local stage's token signing key, one item of the control table
(chalicelib/auth/ports.py ``SigningKeyItem``; chalicelib/auth/tokens.py ``ControlTableKey``)."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from .conditions import condition_failed
from .models import ControlModel

KEY_ITEM = "auth#jwt-signing-key"


class DynamoSigningKey:
    def __init__(self, item: str = KEY_ITEM) -> None:
        self.item = item

    def load(self) -> Any | None:
        try:
            return ControlModel.get(self.item, consistent_read=True).data
        except ControlModel.DoesNotExist:
            return None

    def create(self, data: dict[str, Any]) -> bool:
        try:
            ControlModel(self.item, data=data).save(condition=ControlModel.pk.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
