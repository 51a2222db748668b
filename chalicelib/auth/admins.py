"""Who counts as an enabled admin: what the roster of enabled admins holds, so that "at least
one admin remains" is atomic (the roster and its transactions: chalicelib/persistence/users.py)."""

from __future__ import annotations

from .identity import Role


def is_enabled_admin(role: str, disabled: bool | None) -> bool:
    return role == Role.ADMIN and not disabled
