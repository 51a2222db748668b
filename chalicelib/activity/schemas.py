"""Response models of the activity log routes (functions/rest/activity.py), for the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivityEntry(_Out):
    id: str = Field(description="the entry's id (partition/sort key)")
    at: str | None = Field(description="when (ISO 8601, UTC)")
    level: Literal["debug", "info", "warning", "error"]
    kind: str = Field(description="e.g. task.state, task.removed, task.pause, batch.create, user.create")
    actor: str = Field(description="who: a username, or engine")
    owner: str | None = Field(description="whose download or setting (the user id); null: the engine's")
    task_id: str | None
    batch_id: str | None
    message: str
    data: dict[str, Any] | None


class ActivityPage(_Out):
    entries: list[ActivityEntry]
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None


class ActivityCleared(_Out):
    deleted: int
