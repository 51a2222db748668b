"""Personal API keys for scripts: ``haul_<id>_<secret>``, sent as ``X-API-Key``.

Only the SHA-256 of the secret is stored (the secret has 256 bits of entropy, so a fast hash
is enough); the full key is shown once, when it is created. A key acts as its owner, with the
owner's role at the time of each request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid

from ..domain.clock import SYSTEM_CLOCK, Clock
from .ports import ApiKey, KeyRecords

PREFIX = "haul_"
HEADER = "X-API-Key"
MAX_KEYS_PER_USER = 50
_KEY = re.compile(r"^haul_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
# last_used_at is written at most this often per key (not a write per request).
_TOUCH_EVERY_MS = 60_000


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_key(value: str) -> bool:
    return value.startswith(PREFIX)


class ApiKeys:
    def __init__(self, records: KeyRecords, clock: Clock = SYSTEM_CLOCK) -> None:
        self.records = records
        self._clock = clock

    def create(self, user_id: str, username: str, name: str, expires_in_days: int | None) -> tuple[ApiKey, str]:
        created = self._clock.now_ms()
        key_id = uuid.uuid4().hex
        secret = secrets.token_urlsafe(32)
        expires = created // 1000 + expires_in_days * 86400 if expires_in_days else None
        key = ApiKey(key_id, user_id, username, name, _digest(secret), created, None, expires)
        self.records.create(key)
        return key, f"{PREFIX}{key_id}_{secret}"

    def of_user(self, user_id: str) -> list[ApiKey]:
        return [k for k in self.records.of_user(user_id) if not self._expired(k)]

    def count(self, user_id: str) -> int:
        return self.records.count(user_id)

    def get(self, key_id: str) -> ApiKey | None:
        key = self.records.get(key_id)
        return None if key is None or self._expired(key) else key

    def delete(self, key_id: str) -> None:
        self.records.delete(key_id)

    def verify(self, presented: str) -> ApiKey | None:
        """The key ``presented`` is, when it is one (and not expired)."""
        match = _KEY.match(presented)
        if not match:
            return None
        key = self.get(match.group(1))
        if key is None or not hmac.compare_digest(_digest(match.group(2)), key.secret_hash):
            return None
        now = self._clock.now_ms()
        if (key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY_MS) and not self.records.touch(
            key.id, now
        ):
            return None  # revoked meanwhile
        return key

    def _expired(self, key: ApiKey) -> bool:
        return key.expires is not None and key.expires * 1000 <= self._clock.now_ms()
