"""Access tokens: short-lived JWTs signed with HS256 (the only algorithm accepted).

Claims: ``sub`` (user id), ``name`` (username), ``sid`` (the login session), ``iat``,
``exp``, ``iss``, ``aud`` and ``jti``; all but ``jti`` are required when verifying. The
signing key never lives in code: a deployed stage reads it from Secrets Manager
(``HAUL_JWT_SECRET_NAME``), the local runtime generates one on first use and keeps it in the
control table (so every process of the stage, and the next start, agree on it).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import jwt

from ..domain.clock import SYSTEM_CLOCK, Clock
from .ports import SigningKeyItem
from .secret import CachedSecret, SecretUnreadable

log = logging.getLogger("haul.auth.tokens")

ALGORITHM = "HS256"
ISSUER = "haul"
AUDIENCE = "haul-api"
REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "sid", "name"]
LEEWAY_SECONDS = 5
MIN_KEY_BYTES = 32


class TokenError(Exception):
    """A token that does not verify; the message says why (for logs, not for clients)."""


class KeyUnavailable(Exception):
    """The signing key cannot be had (a deployment without its secret)."""


class KeySource(Protocol):
    def key(self) -> bytes: ...


class ControlTableKey:
    """The local runtime's key: generated once per stage into the control table."""

    def __init__(self, item: SigningKeyItem) -> None:
        self.item = item
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def _load_or_create(self) -> bytes:
        found = self.item.load()
        if found is not None:
            return _decode(found)
        if self.item.create({"key": secrets.token_urlsafe(64)}):
            log.info("generated this stage's token signing key (control table)")
        # else another process made it first: use theirs
        return _decode(self.item.load())


class SecretsManagerKey:
    """A deployed stage's key: the secret ``name`` (a string, or JSON with a ``key`` field)."""

    def __init__(self, name: str, client_factory: Callable[[], Any]) -> None:
        self.name = name
        self._secret = CachedSecret(name, client_factory)
        self._key: bytes | None = None

    def key(self) -> bytes:
        if self._key is None:
            try:
                value = self._secret.value()
            except SecretUnreadable as exc:  # no key: refuse every token
                raise KeyUnavailable(f"cannot read the signing key secret {self.name!r}: {exc}") from None
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = value
            self._key = _decode({"key": parsed.get("key") if isinstance(parsed, dict) else parsed})
        return self._key


class NoKey:
    """Where no key may be generated (in Lambda) and no secret is configured."""

    def key(self) -> bytes:
        raise KeyUnavailable(
            "HAUL_JWT_SECRET_NAME is not set: a deployed stage reads its signing key from Secrets Manager"
        )


def _decode(data: Any) -> bytes:
    value = data.get("key") if isinstance(data, dict) else None
    if not isinstance(value, str) or len(value.encode()) < MIN_KEY_BYTES:
        raise KeyUnavailable(f"the token signing key must be a string of at least {MIN_KEY_BYTES} bytes")
    return value.encode()


def key_source(secret_name: str | None, client_factory: Callable[[], Any], local: SigningKeyItem) -> KeySource:
    """``local``: where the local stage keeps the key it generates."""
    if secret_name:
        return SecretsManagerKey(secret_name, client_factory)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return NoKey()
    return ControlTableKey(local)


@dataclass(frozen=True)
class AccessClaims:
    user_id: str
    username: str
    session_id: str
    issued_at: int
    expires_at: int


class Tokens:
    def __init__(self, keys: KeySource, lifetime_seconds: int, clock: Clock = SYSTEM_CLOCK) -> None:
        self._keys = keys
        self.lifetime = lifetime_seconds
        self._clock = clock

    def issue(self, user_id: str, username: str, session_id: str, role: str) -> str:
        now = self._clock.now_ms() // 1000
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": user_id,
            "name": username,
            "role": role,  # informative: the role in force is read from the user at each request
            "sid": session_id,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._keys.key(), algorithm=ALGORITHM, headers={"typ": "JWT"})

    def verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(f"malformed token: {exc}") from None
        if header.get("alg") != ALGORITHM:
            raise TokenError(f"tokens are signed with {ALGORITHM}, not {header.get('alg')!r}")
        try:
            claims = jwt.decode(
                token,
                self._keys.key(),
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                options={"require": REQUIRED_CLAIMS, "verify_iat": True},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        if not all(isinstance(claims.get(k), str) and claims[k] for k in ("sub", "name", "sid")):
            raise TokenError("sub, name and sid must be non-empty strings")
        return AccessClaims(claims["sub"], claims["name"], claims["sid"], int(claims["iat"]), int(claims["exp"]))
