"""Targets' secrets at rest: sealed with a key that never leaves the server (Fernet:
AES-128-CBC with HMAC-SHA256, from ``cryptography``).

The key is a Secrets Manager secret on deployed stages (``HAUL_NOTIFY_KEY_SECRET_NAME``: a
string, or JSON with a ``key`` field, at least 32 characters); locally it is generated once
into the control table (chalicelib/notify/persistence.py). A Lambda function without the
secret refuses to seal or open anything rather than invent a key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from ..auth.secret import CachedSecret, SecretUnreadable


class KeyUnavailable(RuntimeError):
    pass


class SecretBox:
    def __init__(self, material: Callable[[], str]) -> None:
        self._material = material
        self._fernet: Fernet | None = None
        self._lock = threading.Lock()

    def _box(self) -> Fernet:
        with self._lock:
            if self._fernet is None:
                raw = self._material()
                if len(raw) < 32:
                    raise KeyUnavailable("the notification key must be at least 32 characters")
                # Fernet wants 32 url-safe base64 bytes; the stored material may be any string.
                self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw.encode()).digest()))
            return self._fernet

    def seal(self, value: dict[str, Any]) -> str:
        return self._box().encrypt(json.dumps(value, separators=(",", ":")).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            value = json.loads(self._box().decrypt(token.encode()))
        except InvalidToken:
            raise KeyUnavailable("a target's secrets cannot be opened with this stage's key") from None
        return value if isinstance(value, dict) else {}


def secrets_manager_material(name: str, client_factory: Callable[[], Any]) -> Callable[[], str]:
    secret = CachedSecret(name, client_factory)

    def read() -> str:
        try:
            value = secret.value()
        except SecretUnreadable as exc:
            raise KeyUnavailable(f"cannot read the notification key: {exc}") from None
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return str(parsed.get("key", "")) if isinstance(parsed, dict) else str(parsed)

    return read


def no_material() -> str:
    raise KeyUnavailable("HAUL_NOTIFY_KEY_SECRET_NAME is not set: a deployed stage reads the notification key "
                         "from Secrets Manager")
