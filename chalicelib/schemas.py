"""Request models: every body and query string is validated here before it reaches the engine."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from .auth import passwords
from .auth.identity import Role
from .domain import filenames
from .domain.states import TaskState
from .domain.task import priority_value
from .errors import ValidationFailed

MAX_URL = 2048
MAX_HEADERS = 32
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_CHECKSUM = re.compile(r"^(sha256|sha1|sha512|md5):([0-9a-fA-F]+)$")
_DIGEST_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
# Headers Haul sets itself; a user may not override them.
_RESERVED_HEADERS = {
    "host", "range", "if-range", "content-length", "transfer-encoding", "connection",
    "accept-encoding", "te", "upgrade", "expect", "proxy-authorization",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("must be LOW, NORMAL, HIGH or a number from -100 to 100")
    try:
        return priority_value(value)
    except (ValueError, TypeError):
        raise ValueError("must be LOW, NORMAL, HIGH or a number from -100 to 100") from None


# LOW / NORMAL / HIGH or -100..100, always an int once validated.
Priority = Annotated[
    int,
    BeforeValidator(
        _priority,
        json_schema_input_type=Annotated[int, Field(ge=-100, le=100)] | Literal["LOW", "NORMAL", "HIGH"],
    ),
]


class AddDownload(_Strict):
    url: str = Field(min_length=1, max_length=MAX_URL)
    filename: str | None = Field(default=None, max_length=1024)
    batch_id: str | None = Field(default=None, max_length=64)
    batch_name: str | None = Field(default=None, max_length=200)
    priority: Priority = 0
    headers: dict[str, str] = Field(default_factory=dict)
    checksum: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.I):
            raise ValueError("must be an absolute http:// or https:// URL")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port that is not a number in 0..65535
        except ValueError as exc:
            raise ValueError(f"is not a valid URL: {exc}") from None
        if not parts.hostname:
            raise ValueError("must name a host")
        return value

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is None:
            return None
        clean = filenames.sanitize(value)
        if not value.strip():
            raise ValueError("must not be empty")
        return clean

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for name, content in value.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name!r} is set by Haul and cannot be overridden")
            if len(content) > 8192 or any(c in content for c in "\r\n\x00"):
                raise ValueError(f"the value of {name!r} is too long or has line breaks")
        return value

    @field_validator("checksum")
    @classmethod
    def _checksum(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _CHECKSUM.match(value)
        if not match or len(match.group(2)) != _DIGEST_HEX[match.group(1)]:
            raise ValueError("must be <algorithm>:<hex digest> with sha256, sha1, sha512 or md5")
        return f"{match.group(1)}:{match.group(2).lower()}"

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not 1 <= len(tag) <= 50:
                raise ValueError("each tag must be 1 to 50 characters")
        return value


class PatchDownload(_Strict):
    priority: Priority | None = None
    filename: str | None = Field(default=None, max_length=1024)

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        return filenames.sanitize(value)


class ListQuery(_Strict):
    status: TaskState | None = None
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)
    # Whose downloads: an admin lists everyone's without it; anyone else only their own.
    owner: str | None = Field(default=None, min_length=1, max_length=64)


class DeleteQuery(_Strict):
    delete_file: bool = False


# -- accounts ------------------------------------------------------------------------------

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


def _username(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _check_username(value: str) -> str:
    if not _USERNAME.match(value):
        raise ValueError("must be 2 to 64 characters: letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


# Usernames are case-insensitive: stored and compared in lower case.
Username = Annotated[str, BeforeValidator(_username), Field(min_length=2, max_length=64)]
NewUsername = Annotated[
    str, BeforeValidator(_username), AfterValidator(_check_username),
    Field(min_length=2, max_length=64, json_schema_extra={"pattern": _USERNAME.pattern}),
]
# Passwords are taken exactly as typed (no stripping); a new one is 8 to 1024 characters.
Password = Annotated[str, StringConstraints(strip_whitespace=False), Field(min_length=1, max_length=passwords.MAX_LENGTH)]
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


class UserListQuery(_Strict):
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=512)


class CreateApiKey(_Strict):
    name: str = Field(min_length=1, max_length=100)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not contain control characters")
        return value


def parse(model: type[_Strict], data: Any, where: Literal["body", "query"] = "body") -> Any:
    """Validate ``data`` with ``model``; a ValidationFailed naming each offending field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed(f"the {where} must be a JSON object", [{"field": where, "message": "must be an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or where
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "is not a known field"
            details.append({"field": field, "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
        raise ValidationFailed(f"invalid {where}: {summary}", details) from None
