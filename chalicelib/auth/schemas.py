"""The accounts API's models: requests (login, setup, users, API keys) and responses."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

from ..api.responses import _Out
from ..api.schemas import PlainText, _Strict
from . import passwords
from .identity import Role

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _username(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _check_username(value: str) -> str:
    if not _USERNAME.match(value):
        raise ValueError(
            "must be 2 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return value


# Usernames are case-insensitive: stored and compared in lower case.
Username = Annotated[str, BeforeValidator(_username), Field(min_length=2, max_length=64)]


NewUsername = Annotated[
    str, BeforeValidator(_username), AfterValidator(_check_username),
    Field(min_length=2, max_length=64, json_schema_extra={"pattern": _USERNAME.pattern}),
]


# Passwords are taken exactly as typed (no stripping); a new one is 8 to 1024 characters.
Password = Annotated[
    str, StringConstraints(strip_whitespace=False), Field(min_length=1, max_length=passwords.MAX_LENGTH)
]


NewPassword = Annotated[
    str, StringConstraints(strip_whitespace=False),
    Field(min_length=passwords.MIN_LENGTH, max_length=passwords.MAX_LENGTH),
]


class Login(_Strict):
    username: Username
    password: Password


class Setup(_Strict):
    username: NewUsername
    password: NewPassword
    # A deployed stage's one-time setup token (printed by `make deploy`); the local stage needs none.
    setup_token: str | None = Field(default=None, min_length=1, max_length=256)


class Refresh(_Strict):
    refresh_token: str = Field(min_length=1, max_length=512)


class CreateUser(_Strict):
    username: NewUsername
    password: NewPassword
    role: Role = Role.USER


class PatchUser(_Strict):
    role: Role | None = None
    disabled: bool | None = None
    password: NewPassword | None = None


class ChangePassword(_Strict):
    current_password: Password
    new_password: NewPassword


class UserListQuery(_Strict):
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class CreateApiKey(_Strict):
    name: PlainText = Field(min_length=1, max_length=100)
    # Your password again: a stolen access token alone cannot mint a lasting key.
    password: Password
    # Left out: the stage's default (settings: security.api_key_days); null: never expires
    # (admins only).
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    @property
    def never_expires(self) -> bool:
        return "expires_in_days" in self.model_fields_set and self.expires_in_days is None


class UserView(_Out):
    id: str
    username: str
    role: Role
    disabled: bool
    created_at: str | None
    updated_at: str | None
    last_login: str | None


class UserPage(_Out):
    users: list[UserView]
    total: int
    next_cursor: str | None


class UserDeleted(_Out):
    id: str
    deleted: bool


class AuthStatus(_Out):
    setup_required: bool = Field(description="true until the first admin exists (POST /auth/setup)")
    setup_token_required: bool = Field(
        description="true on a deployed stage: setup needs the one-time setup_token `make deploy` printed")
    authenticated: bool
    user: UserView | None


class TokenGrant(_Out):
    access_token: str = Field(description="a JWT (HS256); send it as 'Authorization: Bearer <token>'")
    refresh_token: str = Field(description="single use: POST /auth/refresh answers a new one")
    token_type: Literal["bearer"]
    expires_in: int = Field(description="seconds the access token is valid")
    refresh_expires_at: str | None = Field(description="when the session ends, however often it is refreshed")
    user: UserView


class LoggedOut(_Out):
    status: Literal["ok"]


class ApiKeyView(_Out):
    id: str
    name: str
    prefix: str
    created_at: str | None
    last_used_at: str | None
    expires_at: str | None


class ApiKeyCreated(ApiKeyView):
    key: str = Field(description="the key itself: shown once, send it as the X-API-Key header")


class ApiKeyList(_Out):
    keys: list[ApiKeyView]


class KeyRevoked(_Out):
    id: str
    revoked: bool
