"""Scheduled jobs: the job and run records as the service sees them, and the API's requests."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import Field

from ..api.schemas import Instant, _Strict
from .actions import ActionName
from .schedule import Misfire, Schedule, iso, local_iso


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILURE = "failure"
    SKIPPED = "skipped"


FINAL = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.SKIPPED})


class Trigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"


@dataclass
class Job:
    id: str
    owner: str
    owner_name: str
    name: str
    action: ActionName
    params: dict[str, Any]
    schedule: Schedule
    misfire: Misfire
    enabled: bool
    next_run: int | None
    created_at: int
    updated_at: int
    memory: dict[str, Any] = field(default_factory=dict)
    last_run_at: int | None = None
    last_status: str | None = None
    last_error: str | None = None

    def view(self, now_ms: int) -> dict[str, Any]:
        upcoming = self.schedule.upcoming(max(now_ms, (self.next_run or now_ms) - 1), 5) if self.enabled else []
        return {
            "id": self.id,
            "name": self.name,
            "owner": self.owner,
            "owner_name": self.owner_name,
            "enabled": self.enabled,
            "cron": self.schedule.cron,
            "interval_seconds": self.schedule.interval_seconds,
            "timezone": self.schedule.timezone,
            "misfire": self.misfire.value,
            "action": self.action.value,
            "params": self.params,
            "next_run": iso(self.next_run) if self.enabled else None,
            "next_run_local": local_iso(self.next_run, self.schedule.timezone)
            if self.enabled and self.next_run else None,
            "upcoming": [iso(s) for s in upcoming],
            "last_run_at": iso(self.last_run_at),
            "last_status": self.last_status,
            "last_error": self.last_error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass
class JobRun:
    id: str
    job_id: str
    sk: str
    owner: str
    job_name: str
    action: str
    trigger: str
    status: RunStatus
    queued_at: int
    slot: int | None = None
    started_at: int | None = None
    ended_at: int | None = None
    result: str | None = None
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "job_id": self.job_id,
            "job_name": self.job_name,
            "action": self.action,
            "trigger": self.trigger,
            "status": self.status.value,
            "slot": iso(self.slot),
            "queued_at": iso(self.queued_at),
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration_ms": self.ended_at - self.started_at if self.ended_at and self.started_at else None,
            "result": self.result,
            "error": self.error,
        }


# -- requests ------------------------------------------------------------------------------------
class CreateJob(_Strict):
    name: str = Field(min_length=1, max_length=200)
    cron: str | None = Field(default=None, max_length=200,
                             description="5-field cron expression (minute hour day month weekday), in `timezone`")
    interval_seconds: int | None = Field(default=None, description="run every N seconds (60 or more) instead of cron")
    timezone: str = Field(default="UTC", max_length=64, description="IANA time zone name, e.g. Europe/Berlin")
    action: ActionName
    params: dict[str, Any] = Field(default_factory=dict, description="the action's parameters")
    misfire: Misfire = Field(default=Misfire.RUN_ONCE,
                             description="a slot missed while Haul was down: run once (run_once) or skip it")
    enabled: bool = True


class PatchJob(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    cron: str | None = Field(default=None, max_length=200)
    interval_seconds: int | None = None
    timezone: str | None = Field(default=None, max_length=64)
    action: ActionName | None = None
    params: dict[str, Any] | None = None
    misfire: Misfire | None = None
    enabled: bool | None = None


class PreviewSchedule(_Strict):
    cron: str | None = Field(default=None, max_length=200)
    interval_seconds: int | None = None
    timezone: str = Field(default="UTC", max_length=64)
    count: int = Field(default=5, ge=1, le=50)


class HistoryQuery(_Strict):
    job_id: str | None = Field(default=None, min_length=1, max_length=64)
    status: RunStatus | None = None
    since: Instant = None  # runs queued at or after (ISO 8601 or epoch ms)
    until: Instant = None  # runs queued before
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2000)

