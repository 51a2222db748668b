"""Credentials per server in the user's config directory, readable by the user only (0600).

``~/.config/haul/credentials.json`` (``$XDG_CONFIG_HOME`` respected; ``HAUL_CONFIG_DIR``
overrides the directory)::

    {"current": "http://127.0.0.1:8000",
     "servers": {"http://127.0.0.1:8000": {"username": "me", "access_token": "...",
                                           "refresh_token": "...", "ws_url": null}}}

Writers hold an exclusive lock on ``credentials.lock`` and replace the file atomically, so two
``haul`` processes refreshing the same session at once agree (a refresh token works once).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

DEFAULT_URL = "http://127.0.0.1:8000"
API_PREFIX = "/api/v1"


def config_dir() -> Path:
    override = os.environ.get("HAUL_CONFIG_DIR")
    return Path(override) if override else Path(click.get_app_dir("haul"))


def normalise_url(url: str) -> str:
    """The server's base URL as stored: no trailing slash, no ``/api/v1``; ``host:port`` gets http://."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    return url.rstrip("/")


@dataclass
class Credentials:
    url: str
    username: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    api_key: str | None = None
    ws_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in {
            "username": self.username, "access_token": self.access_token, "refresh_token": self.refresh_token,
            "api_key": self.api_key, "ws_url": self.ws_url,
        }.items() if v is not None}
        return {**self.extra, **out}

    @classmethod
    def from_json(cls, url: str, data: dict[str, Any]) -> Credentials:
        known = {"username", "access_token", "refresh_token", "api_key", "ws_url"}
        return cls(url=url, **{k: data.get(k) for k in known},
                   extra={k: v for k, v in data.items() if k not in known})


class Store:
    """The credentials file."""

    def __init__(self, directory: Path | None = None) -> None:
        self.dir = directory or config_dir()
        self.path = self.dir / "credentials.json"
        self._depth = 0  # locked() is re-entrant within one Store

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {"current": None, "servers": {}}
        except (OSError, ValueError):
            return {"current": None, "servers": {}}
        if not isinstance(data, dict) or not isinstance(data.get("servers"), dict):
            return {"current": None, "servers": {}}
        return data

    def _write(self, data: dict[str, Any]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), 0o600)
            json.dump(data, fh, indent=2)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / "credentials.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth = 1
            yield
        finally:
            self._depth = 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def current_url(self) -> str | None:
        current = self._read().get("current")
        return current if isinstance(current, str) else None

    def get(self, url: str) -> Credentials | None:
        entry = self._read()["servers"].get(url)
        return Credentials.from_json(url, entry) if isinstance(entry, dict) else None

    def save(self, creds: Credentials, make_current: bool = True) -> None:
        with self.locked():
            data = self._read()
            data["servers"][creds.url] = creds.to_json()
            if make_current:
                data["current"] = creds.url
            self._write(data)

    def forget(self, url: str) -> bool:
        with self.locked():
            data = self._read()
            found = data["servers"].pop(url, None) is not None
            if data.get("current") == url:
                data["current"] = next(iter(data["servers"]), None)
            self._write(data)
            return found

    def servers(self) -> list[str]:
        return list(self._read()["servers"])
