"""Engine settings: stored in DynamoDB, versioned, read by every function with a short cache.

The settings are one flat record (:class:`EngineSettings`); the API shows and accepts them in
sections (:data:`SECTIONS`, the one table that maps section keys to the flat fields), and still
accepts the flat names in a PATCH.

Storage, in the control table (chalicelib/persistence/settings.py ``DynamoSettingsVersions``,
behind :class:`SettingsVersions`):

- ``settings``: the current version. Every function reads it through :class:`SettingsStore`,
  which caches it for two seconds (:meth:`SettingsStore.get`): the engine applies a change on
  its next dispatch.
  A download's ``start`` reads the settings afresh, so one dispatched after the change is
  planned with it (part size, parallel parts, speed limit); everything else (the dispatcher's
  max concurrent downloads, a lane's retry policy, per-host limit and default speed limit,
  presigned-URL lifetime, retention marks) sees it within ~2 s.
- ``settings#v<N>``: version N, with the changes that made it (``field -> [old, new]``).
  Versions count up by one: a change writes version N+1 in one transaction with the current
  item, on condition that ``settings#v<N+1>`` does not exist yet and the current item is still
  version N, so two concurrent changes can never both become version N+1 (the loser merges its
  changes onto the winner's version and tries again). Version 0 is the defaults (or whatever was
  stored before versions existed); it is written together with version 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Protocol

from ..domain.backoff import RetryPolicy
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.planning import MAX_PART_SIZE, MIN_PART_SIZE, MiB
from ..domain.task import iso

# No setting goes anywhere near this; larger numbers are rejected before any arithmetic.
_LARGEST = 2**53
# Concurrent changes that lose the race for a version number merge and try again this often.
_WRITE_ATTEMPTS = 8


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
    # A new API key expires after this many days unless its creator says otherwise.
    api_key_days: int = 90

    # -- fairness and bounds (issue #11) --
    # Downloads one user may have running at once (0: half of max_concurrent_downloads, at
    # least 1; see per_user_limit).
    per_user_downloads: int = 0
    # A download slower than this many bytes/s for min_speed_seconds goes back to the queue,
    # behind the others waiting (0: never).
    min_speed: int = 0
    min_speed_seconds: int = 60
    # Times a download may start over (source changed, stream interrupted, upload expired,
    # stalled) before it fails; a retry by the user starts the count again.
    max_restarts: int = 3

    @property
    def per_user_limit(self) -> int:
        """Running downloads one user may have at once, in force."""
        if self.per_user_downloads > 0:
            return min(self.per_user_downloads, self.max_concurrent_downloads)
        return max(1, self.max_concurrent_downloads // 2)

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(self.retry_max_attempts, self.retry_base_seconds, self.retry_cap_seconds)

    def problems(self) -> dict[str, str]:
        """Field -> what is wrong with it; empty when the settings are valid."""
        return {name: why for name, ok, why in self._checks() if not ok}

    def _checks(self) -> list[tuple[str, bool, str]]:
        """Each field's range check: (field, within its range, what to say when it is not)."""
        speed_ok = self.default_speed_limit == 0 or 16 * 1024 <= self.default_speed_limit <= 100 * 1024**3
        return [
            ("max_concurrent_downloads", 1 <= self.max_concurrent_downloads <= 1000, "must be between 1 and 1000"),
            ("parallel_parts", 1 <= self.parallel_parts <= 64, "must be between 1 and 64"),
            (
                "part_size",
                MIN_PART_SIZE <= self.part_size <= MAX_PART_SIZE,
                f"must be between {MIN_PART_SIZE} (5 MiB) and {MAX_PART_SIZE} (5 GiB)",
            ),
            ("retry_max_attempts", 1 <= self.retry_max_attempts <= 100, "must be between 1 and 100"),
            ("retry_base_seconds", 0 < self.retry_base_seconds <= 900, "must be above 0 and at most 900"),
            (
                "retry_cap_seconds",
                self.retry_base_seconds <= self.retry_cap_seconds <= 900,
                "must be at least the base delay (retry.base_seconds) and at most 900",
            ),
            ("presign_seconds", 1 <= self.presign_seconds <= 7 * 24 * 3600, "must be between 1 second and 7 days"),
            ("per_host_connections", 0 <= self.per_host_connections <= 256, "must be between 0 (no limit) and 256"),
            (
                "default_speed_limit",
                speed_ok,
                "must be 0 (no limit) or between 16384 (16 KiB/s) and 100 GiB/s, in bytes per second",
            ),
            (
                "history_retention_days",
                0 <= self.history_retention_days <= 3650,
                "must be between 0 (keep) and 3650 days",
            ),
            (
                "activity_retention_days",
                1 <= self.activity_retention_days <= 3650,
                "must be between 1 and 3650 days",
            ),
            ("api_key_days", 1 <= self.api_key_days <= 3650, "must be between 1 and 3650 days"),
            (
                "per_user_downloads",
                0 <= self.per_user_downloads <= 1000,
                "must be between 0 (half of queue.max_concurrent_downloads) and 1000",
            ),
            (
                "min_speed",
                0 <= self.min_speed <= 100 * 1024**3,
                "must be between 0 (off) and 100 GiB/s, in bytes per second",
            ),
            ("min_speed_seconds", 5 <= self.min_speed_seconds <= 3600, "must be between 5 and 3600 seconds"),
            ("max_restarts", 0 <= self.max_restarts <= 100, "must be between 0 and 100"),
        ]

    def applied(self, changes: dict[str, Any]) -> tuple[EngineSettings, dict[str, str]]:
        """The settings with every well-typed change applied, and field -> problem (flat names)
        for the rest and for every value out of its range. Never raises."""
        known = {f.name for f in fields(self)}
        errors: dict[str, str] = {name: "is not a setting" for name in sorted(set(changes) - known)}
        typed: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                continue
            current = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors[name] = "must be a number"
            elif isinstance(value, int) and abs(value) > _LARGEST:
                # Far out of every range, and too large for float(): reject it here.
                errors[name] = "is far too large"
            elif isinstance(value, float) and not math.isfinite(value):
                errors[name] = "must be a finite number"
            elif isinstance(current, int) and not float(value).is_integer():
                errors[name] = "must be a whole number"
            else:
                typed[name] = type(current)(value)
        result = replace(self, **typed)
        for name, problem in result.problems().items():
            errors.setdefault(name, problem)
        return result, errors

    def merged(self, changes: dict[str, Any]) -> EngineSettings:
        """The settings with ``changes`` (flat names) applied; SettingsError naming every bad one."""
        result, errors = self.applied(changes)
        if errors:
            raise SettingsError(errors)
        return result


class SettingsError(ValueError):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid settings")
        self.fields = fields


class SettingsConflict(RuntimeError):
    """Other changes kept winning the race for the next version number."""


# -- the nested view ---------------------------------------------------------------------
# section -> key in the section -> the flat EngineSettings field. The one place the API's
# names are defined.
SECTIONS: dict[str, dict[str, str]] = {
    "queue": {
        "max_concurrent_downloads": "max_concurrent_downloads",
        "per_host_connections": "per_host_connections",
        "per_user_downloads": "per_user_downloads",
        "min_speed": "min_speed",
        "min_speed_seconds": "min_speed_seconds",
    },
    "transfer": {
        "parallel_parts": "parallel_parts",
        "part_size": "part_size",
        "speed_limit": "default_speed_limit",
    },
    "retry": {
        "max_attempts": "retry_max_attempts",
        "base_seconds": "retry_base_seconds",
        "cap_seconds": "retry_cap_seconds",
        "max_restarts": "max_restarts",
    },
    "files": {"presign_seconds": "presign_seconds"},
    "history": {
        "retention_days": "history_retention_days",
        "activity_retention_days": "activity_retention_days",
    },
    "security": {"api_key_days": "api_key_days"},
}
# flat field -> "section.key"
DOTTED: dict[str, str] = {flat: f"{section}.{key}" for section, keys in SECTIONS.items() for key, flat in keys.items()}
assert set(DOTTED) == {f.name for f in fields(EngineSettings)}, "every setting needs a place in SECTIONS"


def nested(settings: EngineSettings) -> dict[str, dict[str, Any]]:
    """The settings as the API shows them: ``{section: {key: value}}``."""
    return {section: {key: getattr(settings, flat) for key, flat in keys.items()} for section, keys in SECTIONS.items()}


@dataclass(frozen=True)
class Changes:
    """A request's changes in flat names, and how the request named each one."""

    values: dict[str, Any]
    names: dict[str, str]

    def name(self, flat: str) -> str:
        return self.names.get(flat, DOTTED.get(flat, flat))

    def named(self, errors: dict[str, str]) -> dict[str, str]:
        """Errors keyed by flat name -> keyed by the names the request used (dotted otherwise)."""
        return {self.name(flat): message for flat, message in errors.items()}


def parse_changes(body: Any) -> tuple[Changes, dict[str, str]]:
    """A PATCH body -> its changes, and field -> problem for what is not a setting at all.

    Sections (``{"transfer": {"part_size": ...}}``) and the flat names (``{"part_size": ...}``)
    may be mixed; an unknown section or key is named in the problems, dotted.
    """
    if not isinstance(body, dict):
        return Changes({}, {}), {"body": "must be a JSON object of settings to change"}
    values: dict[str, Any] = {}
    names: dict[str, str] = {}
    problems: dict[str, str] = {}

    def put(flat: str, value: Any, written: str) -> None:
        if flat in values:
            problems[written] = f"is given twice (also as {names[flat]})"
            return
        values[flat] = value
        names[flat] = written

    for key, value in body.items():
        key = str(key)
        if key in SECTIONS:
            if not isinstance(value, dict):
                problems[key] = "must be an object of settings: " + ", ".join(SECTIONS[key])
                continue
            for sub, subvalue in value.items():
                flat = SECTIONS[key].get(str(sub))
                if flat is None:
                    problems[f"{key}.{sub}"] = "is not a setting; " + key + " has " + ", ".join(SECTIONS[key])
                else:
                    put(flat, subvalue, f"{key}.{sub}")
        elif key in DOTTED:
            put(key, value, key)
        else:
            problems[key] = "is not a setting section (" + ", ".join(SECTIONS) + ") or setting"
    return Changes(values, names), problems


def diff(old: EngineSettings, new: EngineSettings) -> dict[str, list[Any]]:
    """``"section.key" -> [old, new]`` for every setting that differs."""
    return {
        DOTTED[f.name]: [getattr(old, f.name), getattr(new, f.name)]
        for f in fields(EngineSettings)
        if getattr(old, f.name) != getattr(new, f.name)
    }


def settings_from_data(data: dict[str, Any] | None) -> EngineSettings:
    """The settings stored as ``data`` (flat names; unknown or non-numeric values left out)."""
    known = {f.name: f for f in fields(EngineSettings)}
    values = {}
    for name, value in (data or {}).items():
        if name in known and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = type(getattr(EngineSettings, name))(value)
    return EngineSettings(**values)


# -- versions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SettingsVersion:
    """One version of the settings, with who made it and what it changed."""

    version: int
    settings: EngineSettings
    updated_at: int | None = None
    updated_by: str | None = None
    changes: dict[str, list[Any]] = field(default_factory=dict)
    restored_from: int | None = None
    # True on the version a change() call made just now (not stored).
    created: bool = field(default=False, compare=False)

    def document(self) -> dict[str, Any]:
        """What GET /settings answers."""

        return {
            "version": self.version,
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
            **nested(self.settings),
        }

    def entry(self) -> dict[str, Any]:
        """One item of the settings' history."""

        return {
            "version": self.version,
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
            "restored_from": self.restored_from,
            "settings": nested(self.settings),
            "changes": self.changes,
        }


class SettingsVersions(Protocol):
    """The stored versions (chalicelib/persistence/settings.py ``DynamoSettingsVersions``)."""

    def current(self) -> SettingsVersion | None:
        """The current version; None when nothing was ever stored."""
        ...

    def stored(self, number: int) -> SettingsVersion | None:
        """Version ``number`` from the history (version 0 only once a change was made)."""
        ...

    def stored_many(self, numbers: Iterable[int]) -> list[SettingsVersion]:
        """Those of the versions the history has, in any order."""
        ...

    def add_next(self, now: SettingsVersion, made: SettingsVersion) -> bool:
        """Store ``made`` (version ``now.version + 1``) as current and in the history (with
        ``now`` as version 0 when it is the first change), only if ``now`` is still current and
        no version ``made.version`` exists; False when another change won the race."""
        ...


class SettingsStore:
    def __init__(self, versions: SettingsVersions, ttl: float = 2.0, clock: Clock = SYSTEM_CLOCK) -> None:
        self._versions = versions
        self._ttl = ttl
        self._clock = clock
        self._cached: EngineSettings | None = None
        self._at = 0.0

    # -- what the engine reads -------------------------------------------------------------
    def get(self) -> EngineSettings:
        """The settings, at most ``ttl`` seconds old (one consistent read per ``ttl``)."""
        if self._cached is not None and self._clock.monotonic() - self._at < self._ttl:
            return self._cached
        return self.current().settings

    # -- versions --------------------------------------------------------------------------
    def current(self) -> SettingsVersion:
        """The current version, read now (and cached for :meth:`get`)."""
        found = self._versions.current() or SettingsVersion(0, EngineSettings())
        self._cached, self._at = found.settings, self._clock.monotonic()
        return found

    def version(self, number: int) -> SettingsVersion | None:
        if number < 0:
            return None
        stored = self._versions.stored(number)
        if stored is not None:
            return stored
        if number == 0:
            # Before the first change, version 0 is the current item (or the defaults).
            now = self.current()
            if now.version == 0:
                return now
        return None

    def versions(self, numbers: Iterable[int]) -> list[SettingsVersion]:
        """Those versions that exist, in the order asked for (one BatchGetItem per 100)."""
        wanted = [n for n in numbers if n >= 0]
        found: dict[int, SettingsVersion] = {}
        for v in self._versions.stored_many(wanted):
            found[v.version] = v
        if 0 in wanted and 0 not in found:
            zero = self.version(0)
            if zero is not None:
                found[0] = zero
        return [found[n] for n in wanted if n in found]

    def preview(self, body: Any) -> tuple[SettingsVersion, dict[str, str]]:
        """What a PATCH with ``body`` would make, and field -> problem; stores nothing.

        The version returned is the current one, with the sections the change would produce
        (as far as the values are numbers at all)."""
        changes, problems = parse_changes(body)
        now = self.current()
        result, errors = now.settings.applied(changes.values)
        return replace(now, settings=result), {**problems, **changes.named(errors)}

    def change(self, body: Any, actor: str, restored_from: int | None = None) -> SettingsVersion:
        """Apply a PATCH body (sections or flat names) as the next version; the version now
        current. SettingsError (named as the body named them) when anything is wrong; nothing
        changes then. A change that changes nothing makes no version."""
        changes, problems = parse_changes(body)
        if problems:
            # Report the bad values too, not only the unknown names.
            _, errors = EngineSettings().applied(changes.values)
            raise SettingsError({**problems, **changes.named(errors)})
        for _ in range(_WRITE_ATTEMPTS):
            now = self.current()
            result, errors = now.settings.applied(changes.values)
            if errors:
                raise SettingsError(changes.named(errors))
            changed = diff(now.settings, result)
            if not changed and restored_from is None:
                return now
            made = SettingsVersion(now.version + 1, result, self._clock.now_ms(), actor, changed, restored_from)
            if self._versions.add_next(now, made):
                self._cached, self._at = made.settings, self._clock.monotonic()
                return replace(made, created=True)
        raise SettingsConflict("the settings kept changing meanwhile; try again")

    def restore(self, number: int, actor: str) -> SettingsVersion | None:
        """Make version ``number``'s settings the next version; None when there is no such version."""
        old = self.version(number)
        if old is None:
            return None
        return self.change(asdict(old.settings), actor, restored_from=number)

    def update(self, changes: dict[str, Any], actor: str = "system") -> EngineSettings:
        """Change settings (flat names or sections) and return them: the engine's and the tests' way."""
        return self.change(changes, actor).settings
