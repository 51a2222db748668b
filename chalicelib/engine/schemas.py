"""Response models of queue control, ordering and bulk actions (functions/rest/queue.py, and the
bulk routes in functions/rest/downloads.py), for the OpenAPI document."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..api.schemas import _Strict


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueStatistics(BaseModel):
    """The queue's figures (chalicelib/stats/store.py): admins see everyone's, others their own."""

    model_config = ConfigDict(extra="allow")

    pending_count: int | None = None
    active_count: int | None = None
    paused_count: int | None = None
    completed_count: int | None = None
    failed_count: int | None = None
    total_items: int | None = None
    total_bytes: int | None = None
    downloaded_bytes: int | None = None
    average_speed: float | None = Field(default=None, description="bytes per second")
    estimated_time_remaining: float | None = Field(default=None, description="seconds")


class QueueView(_Out):
    state: Literal["running", "stopped", "paused"]
    running: bool
    paused_until: str | None = Field(description="while paused: when the queue runs again by itself")
    changed_by: str | None = Field(description="who started, stopped or paused it last (engine: a pause ran out)")
    changed_at: str | None
    statistics: QueueStatistics | None


class BulkItemError(_Out):
    code: str = Field(description="NOT_FOUND (missing or another user's), CONFLICT (wrong state), ...")
    message: str


class BulkItem(_Out):
    id: str
    ok: bool
    state: str | None = Field(default=None, description="the download's state after the action (null once deleted)")
    error: BulkItemError | None = None


class BulkAnswer(_Out):
    action: Literal["pause", "resume", "retry", "cancel", "delete"]
    requested: int
    succeeded: int
    failed: int
    results: list[BulkItem]


class RetriedFailed(_Out):
    count: int
    ids: list[str]


class HistoryCleared(_Out):
    deleted: int
    by_state: dict[str, int] = Field(description="downloads deleted per state asked for")


class Reordered(_Out):
    reordered: int = Field(description="downloads now in the order given")
    moved: int = Field(description="of those, how many changed position (one write each)")
    ids: list[str]


# -- requests ----------------------------------------------------------------------------------

MAX_PAUSE_SECONDS = 30 * 86400


class QueuePause(_Strict):
    """Exactly one of: seconds, minutes, until (ISO 8601); 1 s to 30 days from now."""

    seconds: int | None = Field(default=None, ge=1, le=MAX_PAUSE_SECONDS)
    minutes: int | None = Field(default=None, ge=1, le=MAX_PAUSE_SECONDS // 60)
    until: datetime | None = None

    @field_validator("until")
    @classmethod
    def _until(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("must carry a time zone (e.g. 2030-01-01T12:00:00Z)")
        if not 1 <= value.timestamp() - time.time() <= MAX_PAUSE_SECONDS:
            raise ValueError("must be from 1 second to 30 days from now")
        return value

    @model_validator(mode="after")
    def _one(self) -> QueuePause:
        given = [n for n in ("seconds", "minutes", "until") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of seconds, minutes or until")
        return self

    def until_ms(self, now_ms: int) -> int:
        if self.seconds is not None:
            return now_ms + self.seconds * 1000
        if self.minutes is not None:
            return now_ms + self.minutes * 60_000
        assert self.until is not None
        return int(self.until.timestamp() * 1000)
