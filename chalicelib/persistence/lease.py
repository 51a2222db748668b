"""The dispatcher's lease: one item of the control table, so only one kick dispatches at a
time; a kick that finds it taken marks it dirty, and the holder runs once more before it
lets go (chalicelib/engine/dispatcher.py)."""

from __future__ import annotations

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from .conditions import condition_failed
from .models import ControlModel

LOCK_KEY = "lock#dispatcher"


class DynamoLease:
    def __init__(self, key: str = LOCK_KEY) -> None:
        self.key = key

    def acquire(self, holder: str, now: int, lease_ms: int) -> bool:
        """Take the lease for ``holder`` if nobody holds it or it expired before ``now``."""
        item = ControlModel(self.key, holder=holder, expires=now + lease_ms, dirty=False)
        try:
            item.save(condition=ControlModel.pk.does_not_exist() | (ControlModel.expires < now))
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def mark_dirty(self, now: int) -> bool:
        """Ask the current holder to run again; False if there is no holder any more."""
        try:
            ControlModel(self.key).update(
                actions=[ControlModel.dirty.set(True)],
                condition=ControlModel.pk.exists() & (ControlModel.expires >= now),
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def release(self, holder: str, now: int, lease_ms: int) -> bool:
        """Let go unless someone asked for another run; then clear the flag, extend the lease
        and say so (False). True also when the lease expired and someone else holds it now."""
        try:
            ControlModel(self.key).delete(
                condition=(ControlModel.holder == holder) & (ControlModel.dirty == False)  # noqa: E712
            )
            return True
        except DeleteError as exc:
            if not condition_failed(exc):
                raise
        try:
            ControlModel(self.key).update(
                actions=[ControlModel.dirty.set(False), ControlModel.expires.set(now + lease_ms)],
                condition=ControlModel.holder == holder,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return True
            raise
        return False

    def force_release(self, holder: str) -> None:
        """Let go whatever the flag says (after an error), if ``holder`` still holds it."""
        try:
            ControlModel(self.key).delete(condition=ControlModel.holder == holder)
        except DeleteError as exc:
            if not condition_failed(exc):
                raise
