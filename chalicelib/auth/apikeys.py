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
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from ..persistence.models import ApiKeyModel

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
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def create(self, user_id: str, username: str, name: str, expires_in_days: int | None) -> tuple[ApiKeyModel, str]:
        now = self._clock()
        key_id = uuid.uuid4().hex
        secret = secrets.token_urlsafe(32)
        expires = datetime.fromtimestamp(int(now) + expires_in_days * 86400, tz=UTC) if expires_in_days else None
        created = int(now * 1000)
        item = ApiKeyModel(
            key_id, user_id=user_id, username=username, name=name, secret_hash=_digest(secret),
            created_key=f"{created:013d}#{key_id}", created_at=created, expires=expires,
        )
        item.save(condition=ApiKeyModel.id.does_not_exist())
        return item, f"{PREFIX}{key_id}_{secret}"

    def of_user(self, user_id: str) -> list[ApiKeyModel]:
        return [k for k in ApiKeyModel.by_user.query(user_id) if not self._expired(k)]

    def count(self, user_id: str) -> int:
        return int(ApiKeyModel.by_user.count(user_id))

    def get(self, key_id: str) -> ApiKeyModel | None:
        try:
            key = ApiKeyModel.get(key_id, consistent_read=True)
        except ApiKeyModel.DoesNotExist:
            return None
        return None if self._expired(key) else key

    def delete(self, key_id: str) -> None:
        ApiKeyModel(key_id).delete()

    def verify(self, presented: str) -> ApiKeyModel | None:
        """The key ``presented`` is, when it is one (and not expired)."""
        match = _KEY.match(presented)
        if not match:
            return None
        key = self.get(match.group(1))
        if key is None or not hmac.compare_digest(_digest(match.group(2)), key.secret_hash):
            return None
        now = int(self._clock() * 1000)
        if key.last_used_at is None or now - key.last_used_at > _TOUCH_EVERY_MS:
            try:
                key.update(actions=[ApiKeyModel.last_used_at.set(now)], condition=ApiKeyModel.id.exists())
            except UpdateError:
                return None  # revoked meanwhile
        return key

    def _expired(self, key: ApiKeyModel) -> bool:
        return key.expires is not None and key.expires.timestamp() <= self._clock()
