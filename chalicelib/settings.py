"""Engine settings: stored in DynamoDB, read by every function with a short cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from pynamodb.exceptions import DoesNotExist

from .domain.backoff import RetryPolicy
from .domain.planning import MAX_PART_SIZE, MIN_PART_SIZE, MiB
from .models import ControlModel

SETTINGS_KEY = "settings"
# No setting goes anywhere near this; larger numbers are rejected before any arithmetic.
_LARGEST = 2**53


@dataclass(frozen=True)
class EngineSettings:
    max_concurrent_downloads: int = 3
    parallel_parts: int = 8
    part_size: int = 16 * MiB
    retry_max_attempts: int = 6
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 120.0
    presign_seconds: int = 3600
    # Connections to one origin host at once, over every download (0: no limit).
    per_host_connections: int = 0
    # Bytes per second for a download that sets no limit of its own (0: no limit).
    default_speed_limit: int = 0
    # Finished downloads (completed, failed, cancelled) are removed from the history this
    # many days after they finished (0: kept until deleted). Stored files are not touched.
    history_retention_days: int = 0
    # Activity log entries are kept this many days.
    activity_retention_days: int = 30

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.retry_max_attempts, self.retry_base_seconds, self.retry_cap_seconds)

    def problems(self) -> dict[str, str]:
        """Field -> what is wrong with it; empty when the settings are valid."""
        out: dict[str, str] = {}
        if not 1 <= self.max_concurrent_downloads <= 1000:
            out["max_concurrent_downloads"] = "must be between 1 and 1000"
        if not 1 <= self.parallel_parts <= 64:
            out["parallel_parts"] = "must be between 1 and 64"
        if not MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE:
            out["part_size"] = f"must be between {MIN_PART_SIZE} (5 MiB) and {MAX_PART_SIZE} (5 GiB)"
        if not 1 <= self.retry_max_attempts <= 100:
            out["retry_max_attempts"] = "must be between 1 and 100"
        if not 0 < self.retry_base_seconds <= 900:
            out["retry_base_seconds"] = "must be above 0 and at most 900"
        if not self.retry_base_seconds <= self.retry_cap_seconds <= 900:
            out["retry_cap_seconds"] = "must be at least retry_base_seconds and at most 900"
        if not 1 <= self.presign_seconds <= 7 * 24 * 3600:
            out["presign_seconds"] = "must be between 1 second and 7 days"
        if not 0 <= self.per_host_connections <= 256:
            out["per_host_connections"] = "must be between 0 (no limit) and 256"
        if not (self.default_speed_limit == 0 or 16 * 1024 <= self.default_speed_limit <= 100 * 1024**3):
            out["default_speed_limit"] = "must be 0 (no limit) or between 16384 (16 KiB/s) and 100 GiB/s, in bytes per second"
        if not 0 <= self.history_retention_days <= 3650:
            out["history_retention_days"] = "must be between 0 (keep) and 3650 days"
        if not 1 <= self.activity_retention_days <= 3650:
            out["activity_retention_days"] = "must be between 1 and 3650 days"
        return out

    def merged(self, changes: dict[str, Any]) -> EngineSettings:
        known = {f.name: f.type for f in fields(self)}
        unknown = sorted(set(changes) - set(known))
        if unknown:
            raise SettingsError({name: "is not a setting" for name in unknown})
        typed: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, value in changes.items():
            current = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors[name] = "must be a number"
            elif isinstance(value, int) and abs(value) > _LARGEST:
                # Far out of every range, and too large for float(): reject it here.
                errors[name] = "is far too large"
            elif isinstance(current, int) and not float(value).is_integer():
                errors[name] = "must be a whole number"
            else:
                typed[name] = type(current)(value)
        if errors:
            raise SettingsError(errors)
        result = replace(self, **typed)
        problems = result.problems()
        if problems:
            raise SettingsError(problems)
        return result


class SettingsError(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid settings")
        self.fields = fields


class SettingsStore:
    def __init__(self, ttl: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cached: EngineSettings | None = None
        self._at = 0.0

    def get(self) -> EngineSettings:
        if self._cached is not None and self._clock() - self._at < self._ttl:
            return self._cached
        try:
            data = ControlModel.get(SETTINGS_KEY, consistent_read=True).data or {}
        except DoesNotExist:
            data = {}
        known = {f.name for f in fields(EngineSettings)}
        current = EngineSettings(**{k: v for k, v in data.items() if k in known})
        self._cached, self._at = current, self._clock()
        return current

    def update(self, changes: dict[str, Any]) -> EngineSettings:
        updated = self.get().merged(changes)
        ControlModel(SETTINGS_KEY, data=asdict(updated), updated_at=int(time.time() * 1000)).save()
        self._cached, self._at = updated, self._clock()
        return updated
