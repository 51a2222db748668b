"""The enabled admins, as one item: what makes "at least one admin remains" atomic.

The roster (``auth#admins`` in the control table) holds the usernames of the enabled admins.
Every change that makes or unmakes an enabled admin (setup, creating an admin, a role change,
disabling, enabling, deleting) writes the user and the roster in one transaction. Leaving
the roster is conditional on the user being in it and on someone else staying, so two admins
demoting each other at the same moment cannot both succeed: DynamoDB serialises the two
transactions on the roster item, and the second finds one member left.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError
from pynamodb.expressions.condition import size

from ..persistence.conditions import condition_failed
from ..persistence.models import ControlModel, UserModel
from .identity import Role

ROSTER = "auth#admins"


def is_enabled_admin(role: str, disabled: bool | None) -> bool:
    return role == Role.ADMIN and not disabled


class AdminRoster:
    def ensure(self) -> None:
        """Make the roster from the users when there is none yet (a stage older than it)."""
        try:
            ControlModel.get(ROSTER, consistent_read=True)
            return
        except ControlModel.DoesNotExist:
            pass
        admins = {u.username for u in UserModel.by_created.query("user") if is_enabled_admin(u.role, u.disabled)}
        item = ControlModel(ROSTER, members=admins or None)
        try:
            item.save(condition=ControlModel.pk.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise

    @staticmethod
    def join(tx: Any, username: str) -> None:
        """In transaction ``tx``: ``username`` is an enabled admin now."""
        tx.update(ControlModel(ROSTER), actions=[ControlModel.members.add({username})])

    @staticmethod
    def leave(tx: Any, username: str) -> None:
        """In transaction ``tx``: ``username`` stops being an enabled admin, if another remains."""
        tx.update(
            ControlModel(ROSTER), actions=[ControlModel.members.delete({username})],
            condition=ControlModel.members.contains(username) & (size(ControlModel.members) > 1),
        )
