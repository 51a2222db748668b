"""Roles, and the identity a request (or a WebSocket connection) acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"  # reads their own downloads
    USER = "user"  # reads and changes their own downloads
    ADMIN = "admin"  # everything, every user's downloads, users and settings


_RANK = {Role.VIEWER: 0, Role.USER: 1, Role.ADMIN: 2}


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    role: Role
    via: str = "token"  # "token" (a login session) or "api_key"
    session_id: str | None = None
    key_id: str | None = None

    def at_least(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def sees(self, owner: str) -> bool:
        """Whether this caller may see an object owned by ``owner``."""
        return self.is_admin or owner == self.user_id
