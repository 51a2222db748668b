"""Notifications: targets and deliveries as the service sees them, and the API's requests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from ..api.schemas import Instant, _Strict
from ..jobs.schedule import iso
from .events import DEFAULT_EVENTS, SUBSCRIBABLE, EventName

_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")
_RESERVED = {"content-type", "content-length", "host", "x-haul-signature", "x-haul-event", "x-haul-delivery"}


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass
class Target:
    id: str
    owner: str
    name: str
    kind: str  # webhook | apprise
    display: str
    events: list[str]
    enabled: bool
    has_secret: bool
    header_names: list[str]
    created_at: int
    updated_at: int
    sealed: str = field(repr=False, default="")

    def view(self) -> dict[str, Any]:
        """What GET shows: never the URL's path or credentials, the secret or header values."""
        return {"id": self.id, "owner": self.owner, "name": self.name, "kind": self.kind, "url": self.display,
                "events": self.events, "enabled": self.enabled, "has_secret": self.has_secret,
                "headers": self.header_names, "created_at": iso(self.created_at), "updated_at": iso(self.updated_at)}


@dataclass
class Delivery:
    id: str
    owner: str
    target_id: str
    target_name: str | None
    event: str
    title: str
    status: DeliveryStatus
    attempts: int
    created_at: int
    updated_at: int
    last_error: str | None = None
    response: str | None = None
    delivered_at: int | None = None

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "target_id": self.target_id, "target_name": self.target_name, "event": self.event,
                "title": self.title, "status": self.status.value, "attempts": self.attempts,
                "last_error": self.last_error, "response": self.response, "created_at": iso(self.created_at),
                "updated_at": iso(self.updated_at), "delivered_at": iso(self.delivered_at)}


def _events(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip().lower() for v in value]
    known = {e.value for e in SUBSCRIBABLE}
    bad = [n for n in names if n not in known]
    if bad:
        raise ValueError(f"unknown event(s) {', '.join(bad)}; use {', '.join(sorted(known))}")
    return list(dict.fromkeys(names))


def _headers(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return None
    for name, text in value.items():
        if not _HEADER.match(name) or name.lower() in _RESERVED:
            raise ValueError(f"{name!r} is not a header a target may set")
        if len(text) > 2000 or "\n" in text or "\r" in text:
            raise ValueError(f"the value of {name} must be one line of at most 2000 characters")
    return value


class CreateTarget(_Strict):
    name: str = Field(min_length=1, max_length=100)
    kind: Literal["webhook", "apprise"]
    url: str = Field(min_length=3, max_length=2000,
                     description="webhook: the http(s) URL; apprise: an Apprise URL (tgram://, ntfy://, json:// ...)")
    secret: str | None = Field(default=None, min_length=16, max_length=200,
                               description="webhook: the HMAC-SHA256 signing secret (never shown again)")
    headers: dict[str, str] = Field(default_factory=dict, max_length=20, description="webhook: extra headers")
    events: list[str] = Field(default_factory=lambda: [e.value for e in DEFAULT_EVENTS], max_length=20)
    enabled: bool = True

    _check_events = field_validator("events")(classmethod(lambda cls, v: _events(v)))
    _check_headers = field_validator("headers")(classmethod(lambda cls, v: _headers(v)))


class PatchTarget(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: str | None = Field(default=None, min_length=3, max_length=2000)
    secret: str | None = Field(default=None, max_length=200, description="a new secret; \"\" removes it")
    headers: dict[str, str] | None = Field(default=None, max_length=20)
    events: list[str] | None = Field(default=None, max_length=20)
    enabled: bool | None = None

    _check_events = field_validator("events")(classmethod(lambda cls, v: _events(v)))
    _check_headers = field_validator("headers")(classmethod(lambda cls, v: _headers(v)))


class SendMessage(_Strict):
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=4000)
    target_ids: list[Annotated[str, Field(max_length=64)]] = Field(min_length=1, max_length=100)
    level: Literal["info", "success", "warning", "error"] = "info"


class DeliveryQuery(_Strict):
    status: DeliveryStatus | None = None
    target_id: str | None = Field(default=None, max_length=64)
    event: EventName | None = None
    since: Instant = None
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)
