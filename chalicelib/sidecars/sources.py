"""What the sidecars read from outside, as small interfaces (implemented in wiring.py over the
metadata providers and the library's index; in-memory fakes in the unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .models import Kind, MediaFile, StoredObject, Title


class NotConfigured(Exception):
    """The provider has no configuration; ``setting`` names what is missing (a 503)."""

    def __init__(self, setting: str) -> None:
        super().__init__(setting)
        self.setting = setting


class SourceFailed(Exception):
    """The provider answered with an error or not at all (a 502/503/404 to the caller)."""

    def __init__(self, message: str, not_found: bool = False) -> None:
        super().__init__(message)
        self.not_found = not_found


class Details(Protocol):
    """TMDB's JSON answers (v3): ``/configuration``, ``/tv/{id}`` and ``/movie/{id}`` with
    ``external_ids,credits,images`` appended, ``/tv/{id}/season/{n}``."""

    def configuration(self) -> dict[str, Any]: ...

    def details(self, kind: Kind, tmdb_id: int) -> dict[str, Any]: ...

    def season(self, tmdb_id: int, season: int) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Image:
    body: bytes
    content_type: str


class Images(Protocol):
    def fetch(self, url: str) -> Image:
        """GET an image through the SSRF guard; SourceFailed when it cannot."""
        ...


class Library(Protocol):
    """The owner's completed media downloads (the library's index)."""

    def files(self, owner: str, kind: Kind, tmdb_id: int) -> list[MediaFile]: ...

    def titles(self, owner: str, limit: int) -> list[Title]: ...


class Objects(Protocol):
    """The bucket, as the sidecars use it (persistence.SidecarObjects)."""

    def folder(self, prefix: str) -> dict[str, StoredObject]: ...

    def put(self, key: str, body: bytes, content_type: str, owner: str) -> None: ...

    def get(self, key: str, max_bytes: int) -> tuple[bytes, StoredObject] | None: ...

    def delete(self, key: str) -> None: ...

    def owner(self, key: str) -> str | None:
        """The object's ``haul-owner`` ("" if none), None if there is no such object."""
        ...
