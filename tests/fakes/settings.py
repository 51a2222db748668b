"""The engine settings' stored versions (chalicelib/persistence/settings.py
``DynamoSettingsVersions``) in memory: the current version and the history, each new version
added all or nothing on the same conditions as the DynamoDB transaction."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from chalicelib.settings.store import SettingsVersion


class FakeSettingsVersions:
    def __init__(self) -> None:
        self.now: SettingsVersion | None = None
        self.history: dict[int, SettingsVersion] = {}
        self.lose_races = 0  # the next this many add_next calls lose to a concurrent change
        self._lock = threading.Lock()

    def current(self) -> SettingsVersion | None:
        return self.now

    def stored(self, number: int) -> SettingsVersion | None:
        return self.history.get(number)

    def stored_many(self, numbers: Iterable[int]) -> list[SettingsVersion]:
        return [self.history[n] for n in dict.fromkeys(numbers) if n in self.history]

    def add_next(self, now: SettingsVersion, made: SettingsVersion) -> bool:
        with self._lock:
            if self.lose_races > 0:
                self.lose_races -= 1
                return False
            version = self.now.version if self.now is not None else 0
            if version != now.version or made.version in self.history:
                return False
            if now.version == 0:
                if 0 in self.history:
                    return False
                self.history[0] = SettingsVersion(0, now.settings, now.updated_at, now.updated_by)
            stored = SettingsVersion(
                made.version, made.settings, made.updated_at, made.updated_by, dict(made.changes), made.restored_from
            )
            self.history[made.version] = stored
            self.now = SettingsVersion(made.version, made.settings, made.updated_at, made.updated_by)
            return True
