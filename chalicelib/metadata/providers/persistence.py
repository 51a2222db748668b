"""Where the providers keep things: their settings (control table), cached answers and rate
limit slots (rate-limits table). PynamoDB is used here only.

- ``providers#settings`` (control table): the provider settings as JSON, and the keys sealed
  (chalicelib/notify/crypto.py's SecretBox: Fernet with the stage's key) in ``sealed``; a
  ``version`` counted up by a conditional write, so two concurrent changes cannot both win.
- ``mdcache#<provider>#<digest>`` (rate-limits table): one cached answer, zlib-compressed,
  deleted by the table's TTL (``expires``); a reader ignores an expired item before DynamoDB
  deletes it.
- ``mdpace#<provider>`` (rate-limits table): the provider's next free request slot (pacing.py).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import BinaryAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.models import Model

from ...persistence.conditions import condition_failed, save_if
from ...persistence.models import ControlModel, RateLimitModel

SETTINGS_KEY = "providers#settings"
CACHE_PREFIX = "mdcache#"
PACE_PREFIX = "mdpace#"
PACE_ITEM_SECONDS = 24 * 3600


class ProviderSettingsItem(Model):
    """``providers#settings`` on the control table (keyed like ControlModel)."""

    class Meta(ControlModel.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    data = JSONAttribute(null=True)
    version = NumberAttribute(null=True)
    updated_at = NumberAttribute(null=True)


class ProviderCacheItem(Model):
    """A cached provider answer or a provider's next request slot (keyed like RateLimitModel)."""

    class Meta(RateLimitModel.Meta):
        pass

    key = UnicodeAttribute(hash_key=True)
    blob = BinaryAttribute(null=True, legacy_encoding=False)
    next_at = NumberAttribute(null=True)
    expires = TTLAttribute(null=True)


class ProviderSettingsItems:
    """The provider settings document: ``(settings, sealed, version)``."""

    def load(self) -> tuple[dict[str, Any], str | None, int]:
        try:
            item = ProviderSettingsItem.get(SETTINGS_KEY, consistent_read=True)
        except DoesNotExist:
            return {}, None, 0
        data = item.data if isinstance(item.data, dict) else {}
        settings = data.get("settings")
        sealed = data.get("sealed")
        return (settings if isinstance(settings, dict) else {}, sealed if isinstance(sealed, str) else None,
                int(item.version or 0))

    def save(self, settings: dict[str, Any], sealed: str | None, version: int, actor: str, now_ms: int) -> bool:
        """Store version ``version`` (the one read was ``version - 1``); False if another
        change was stored in between."""
        item = ProviderSettingsItem(SETTINGS_KEY, data={"settings": settings, "sealed": sealed, "updated_by": actor},
                                    version=version, updated_at=now_ms)
        previous = version - 1
        condition = (ProviderSettingsItem.pk.does_not_exist() if previous == 0
                     else ProviderSettingsItem.version == previous)
        return save_if(item, condition)


class CacheItems:
    """The shared level of the response cache (cache.SharedStore)."""

    def load(self, key: str, now: int) -> bytes | None:
        try:
            item = ProviderCacheItem.get(CACHE_PREFIX + key)
        except DoesNotExist:
            return None
        if item.blob is None or item.expires is None or item.expires.timestamp() <= now:
            return None
        return bytes(item.blob)

    def save(self, key: str, blob: bytes, expires: int) -> None:
        from datetime import UTC, datetime

        ProviderCacheItem(CACHE_PREFIX + key, blob=blob, expires=datetime.fromtimestamp(expires, UTC)).save()

    def forget(self, prefix: str) -> int:
        """Delete the cached answers whose key starts with ``prefix`` (tests; a Scan)."""
        gone = 0
        for item in ProviderCacheItem.scan(ProviderCacheItem.key.startswith(CACHE_PREFIX + prefix)):
            item.delete()
            gone += 1
        return gone


class PaceSlots:
    """The providers' next request slots (pacing.SlotStore), one item each."""

    def next_slot(self, name: str) -> int | None:
        try:
            item = ProviderCacheItem.get(PACE_PREFIX + name, consistent_read=True)
        except DoesNotExist:
            return None
        return int(item.next_at) if item.next_at is not None else None

    def claim_slot(self, name: str, seen: int | None, following: int) -> bool:
        from datetime import UTC, datetime

        item = ProviderCacheItem(PACE_PREFIX + name)
        condition = (ProviderCacheItem.key.does_not_exist() if seen is None else ProviderCacheItem.next_at == seen)
        expires = datetime.fromtimestamp(following // 1000 + PACE_ITEM_SECONDS, UTC)
        try:
            item.update([ProviderCacheItem.next_at.set(following), ProviderCacheItem.expires.set(expires)],
                         condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True
