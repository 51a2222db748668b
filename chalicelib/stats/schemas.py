"""Response models of the statistics and batch routes (functions/rest/stats.py, functions/rest/batches.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.responses import FieldError, _Out
from ..downloads.responses import TaskView


class StateCounts(_Out):
    queued: int
    downloading: int
    paused: int
    completed: int
    failed: int
    cancelled: int


class EngineStats(_Out):
    scope: str = Field(description="'all' (an admin's view) or 'u#<user id>'")
    active: int = Field(description="downloads running now")
    queued: int
    paused: int
    completed: int
    failed: int
    cancelled: int
    total: int
    by_state: StateCounts
    total_speed: int = Field(description="bytes per second of the downloads running now")
    total_bytes: int = Field(description="sizes (where known) of every download in the list")
    downloaded_bytes: int
    remaining_bytes: int = Field(description="bytes still to download of the queued, running and paused ones")
    eta: int | None = Field(description="seconds at the current total speed; null when nothing runs")


class Periods(_Out):
    today: int
    this_week: int = Field(description="since Monday 00:00 UTC")
    this_month: int
    total: int


class Overview(_Out):
    scope: str
    downloads: Periods = Field(description="downloads added")
    completed: Periods
    failed: Periods
    bytes: Periods = Field(description="bytes of the downloads completed")
    success_rate: float | None = Field(description="completed / (completed + failed), all time; null when none")
    bytes_stored: int = Field(description="bytes of the completed downloads in the list")
    by_state: StateCounts


class TimelineBucket(_Out):
    start: str
    added: int
    completed: int
    failed: int
    cancelled: int
    bytes: int


class Timeline(_Out):
    scope: str
    group: Literal["hour", "day"]
    since: str = Field(description="the start of the first bucket")
    until: str = Field(description="the end of the last bucket")
    buckets: list[TimelineBucket]


class BreakdownItem(_Out):
    key: str
    name: str = Field(description="a batch's name; the key itself for the others")
    added: int
    completed: int
    failed: int
    cancelled: int
    bytes: int


class Breakdown(_Out):
    scope: str
    by: Literal["batch", "category", "tag", "host"]
    items: list[BreakdownItem]


class BatchSummary(_Out):
    id: str
    name: str | None
    owner: str
    created_at: str | None
    updated_at: str | None
    items: int = Field(description="downloads in the batch now")
    completed: int
    failed: int
    cancelled: int
    active: int = Field(description="queued, downloading or paused")
    by_state: StateCounts
    progress: float = Field(description="percent of bytes when every size is known, else of items completed")
    total_bytes: int
    downloaded_bytes: int
    state: Literal["downloading", "queued", "paused", "completed", "failed", "cancelled", "empty"]


class ItemError(_Out):
    code: str
    message: str
    details: list[FieldError]


class BatchItemResult(_Out):
    index: int
    ok: bool
    task_id: str | None
    duplicate: bool = Field(description="the URL was already queued, running, paused or completed: "
                                        "this is that download, not a new one")
    error: ItemError | None


class BatchCreated(_Out):
    batch: BatchSummary
    tasks: list[TaskView]
    results: list[BatchItemResult]


class BatchPage(_Out):
    batches: list[BatchSummary]
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None


class BatchDetail(_Out):
    batch: BatchSummary
    tasks: list[TaskView] = Field(description="a page of the batch's downloads, newest first")
    next_cursor: str | None


class BatchTaskOutcome(_Out):
    task_id: str
    outcome: Literal["done", "skipped", "failed"]
    message: str | None


class BatchActionResult(_Out):
    batch_id: str
    action: Literal["pause", "resume", "retry-failed", "delete"]
    affected: int
    skipped: int
    failed: int
    results: list[BatchTaskOutcome]
