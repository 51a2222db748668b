"""One Secrets Manager secret's value, read once per process (a Lambda sandbox reuses it)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class SecretUnreadable(Exception):
    """The secret could not be read (missing, no permission, Secrets Manager not answering)."""


class CachedSecret:
    def __init__(self, name: str, client_factory: Callable[[], Any]) -> None:
        self.name = name
        self._client_factory = client_factory
        self._value: str | None = None
        self._lock = threading.Lock()

    def value(self) -> str:
        with self._lock:
            if self._value is None:
                try:
                    self._value = str(self._client_factory().get_secret_value(SecretId=self.name)["SecretString"])
                except Exception as exc:  # noqa: BLE001 - any failure: the caller decides what it means
                    raise SecretUnreadable(f"cannot read the secret {self.name!r}: {exc}") from None
            return self._value
