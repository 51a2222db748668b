"""The activity log: every state transition and every user action, with who, what and when.

User actions are recorded by the service that performs them (:meth:`ActivityLog.record`);
state transitions are read from the tasks table's stream. Entries expire after the
``activity_retention_days`` setting (the table's TTL attribute). Recording never fails the
action it records: a lost log line is better than a lost download.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from .models import ActivityModel
from .repository import now_ms
from .settings import SettingsStore

log = logging.getLogger("haul.activity")
LEVELS = ("debug", "info", "warning", "error")
SYSTEM = "system"
ENGINE = "engine"


def scope_of(owner: str | None) -> str:
    """The log partition of an owner's entries (``system`` for the engine's own)."""
    return f"u#{owner}" if owner else SYSTEM


def day_of(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d")


class ActivityLog:
    def __init__(self, settings: SettingsStore) -> None:
        self._settings = settings

    def record(
        self,
        *,
        owner: str | None,
        actor: str,
        kind: str,
        message: str,
        level: str = "info",
        task_id: str | None = None,
        batch_id: str | None = None,
        data: dict[str, Any] | None = None,
        at: int | None = None,
    ) -> None:
        """Add one entry. ``owner``: whose download or setting it concerns (None: the engine's);
        ``actor``: who did it (a username, or ``engine``); ``kind``: e.g. ``task.pause``."""
        at = now_ms() if at is None else at
        try:
            days = self._settings.get().activity_retention_days
            ActivityModel(
                scope_of(owner),
                f"{at:013d}#{secrets.token_hex(4)}",
                at=at,
                day=day_of(at),
                level=level if level in LEVELS else "info",
                kind=kind,
                actor=actor,
                message=message[:2000],
                task_id=task_id,
                batch_id=batch_id,
                data=data,
                expires=datetime.fromtimestamp(at / 1000 + days * 86400, tz=UTC),
            ).save()
        except Exception:  # the log must never fail the action it records
            log.exception("could not record activity %s (%s)", kind, message[:200])
