"""Where the naming settings and the key claims live: two kinds of item in the control table.

- ``naming``: the naming settings (chalicelib/metadata/settings.py) as JSON, ``updated_at``,
  ``holder`` = who changed them last;
- ``objkey#<sha256 of the key>``: a claim on one S3 key, ``holder`` = the download holding it
  (``data.key``: the key itself). A claim whose download is gone or now stores elsewhere is
  stale and may be taken over (chalicelib/metadata/service.py decides that).
"""

from __future__ import annotations

import hashlib

from pynamodb.exceptions import DoesNotExist, PutError

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..persistence.models import ControlModel
from .settings import NamingSettings

NAMING_KEY = "naming"


def _claim_pk(key: str) -> str:
    return "objkey#" + hashlib.sha256(key.encode()).hexdigest()


class NamingStore:
    """The naming settings, cached for ``ttl`` seconds like the engine settings."""

    def __init__(self, ttl: float = 2.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cached: NamingSettings | None = None
        self._at = 0.0

    def get(self) -> NamingSettings:
        if self._cached is not None and self._clock.monotonic() - self._at < self._ttl:
            return self._cached
        return self.current()[0]

    def current(self) -> tuple[NamingSettings, int | None, str | None]:
        """The settings read now, when they were changed (epoch ms) and by whom."""
        try:
            item = ControlModel.get(NAMING_KEY, consistent_read=True)
            found = NamingSettings.model_validate(item.data or {})
            at, by = (int(item.updated_at) if item.updated_at else None), item.holder
        except DoesNotExist:
            found, at, by = NamingSettings(), None, None
        self._cached, self._at = found, self._clock.monotonic()
        return found, at, by

    def save(self, settings: NamingSettings, actor: str) -> None:
        item = ControlModel(NAMING_KEY, data=settings.model_dump(mode="json", exclude_none=True),
                            holder=actor, updated_at=self._clock.now_ms())
        item.save()
        self._cached, self._at = settings, self._clock.monotonic()


class KeyClaims:
    """Which download holds which S3 key (conditional writes: two never both win one key)."""

    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock

    def holder(self, key: str) -> str | None:
        try:
            return ControlModel.get(_claim_pk(key), consistent_read=True).holder
        except DoesNotExist:
            return None

    def take(self, key: str, task_id: str, previous: str | None) -> bool:
        """Hold ``key`` for ``task_id`` if it is still held by ``previous`` (None: by nobody)."""
        item = ControlModel(_claim_pk(key), holder=task_id, data={"key": key}, updated_at=self._clock.now_ms())
        condition = (ControlModel.pk.does_not_exist() if previous is None
                     else ControlModel.holder == previous)
        try:
            item.save(condition=condition)
        except PutError:
            return False
        return True
