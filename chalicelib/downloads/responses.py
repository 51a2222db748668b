"""Response models: what each route answers, for the OpenAPI document (chalicelib/api/openapi.py).

Handlers build plain dicts (``Task.view()`` and friends); these models describe them, and the
tests keep the two the same (tests/unit/test_openapi.py, and schemathesis against the runtime).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..api.responses import FieldError, _Out
from ..domain.states import TaskState
from ..metadata.models import Metadata
from ..stats.schemas import StateCounts


class TaskView(_Out):
    id: str
    url: str
    filename: str
    key: str
    state: TaskState
    phase: str | None
    priority: Literal["LOW", "NORMAL", "HIGH"]
    priority_value: int
    progress: float
    downloaded_bytes: int
    total_bytes: int | None
    speed: int = Field(description="bytes per second")
    eta: int | None = Field(description="seconds")
    resumable: bool
    parts_total: int | None
    parts_done: int
    part_size: int | None
    content_type: str | None
    checksum: str | None
    batch_id: str | None
    batch_name: str | None
    category: str | None
    tags: list[str]
    header_names: list[str]
    metadata: Metadata | None = Field(description="what the download is (docs/library.md)")
    path: str | None = Field(description="its own folder prefix; null: its category's")
    naming: str | None = Field(description="its own naming template; null: its category's or the settings'")
    target: str | None = Field(description="renamed while transferring: the key its object moves to once stored")
    guessed: dict[str, Any] | None = Field(
        default=None,
        description="GET /downloads/{id} of a download without metadata: what guessit reads in its file name "
        "(title, year, season, episode, resolution, group); a suggestion, never applied by itself",
    )
    error: str | None
    note: str | None
    restarts: int
    host: str | None = Field(description="the origin's host name")
    speed_limit: int | None = Field(
        description="bytes per second for this download; null: the settings' default_speed_limit; 0: none"
    )
    owner: str = Field(description="the id of the user the download belongs to")
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    updated_at: str | None


class TaskPage(_Out):
    tasks: list[TaskView]
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None


class FileLink(_Out):
    url: str = Field(description="a short-lived presigned URL of the stored file")
    expires_in: int = Field(description="seconds the URL stays valid")


class PartsMap(_Out):
    id: str
    state: TaskState
    parts_total: int | None = Field(description="null until the probe has planned the parts")
    part_size: int | None
    done: list[int] = Field(description="numbers (from 1) of the parts stored so far")


class Deleted(_Out):
    id: str
    deleted: bool
    file_deleted: bool


# The settings' models (nested, versioned) are in chalicelib/settings/schemas.py.


# -- batches (functions/rest/batches.py) ----------------------------------------------------

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
