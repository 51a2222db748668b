"""Pure planning of an admission: no I/O here."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from ...domain import filenames
from ...domain.states import TaskState
from ...domain.task import Task
from ...domain.urls import host_of
from ..schemas import AddDownload

T = TypeVar("T")

# A URL already in one of these states (for the same user) is a duplicate: adding it again
# answers with that download. A failed or cancelled one is not (adding it again is a retry).
DUPLICATE_STATES = (TaskState.QUEUED, TaskState.DOWNLOADING, TaskState.PAUSED, TaskState.COMPLETED)
# How many of an owner's tasks one page of a projected by-owner-state Query holds, at least:
# DynamoDB ends a page at 1 MB of items read, and a task item is under ~2 KB.
TASKS_PER_PAGE = 500
WRITE_CHUNK = 25  # BatchWriteItem's limit
READ_CHUNK = 100  # BatchGetItem's limit


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def new_task(owner: str, req: AddDownload, task_id: str, created: int, seq: int = 0,
             batch_id: str | None = None, name: Callable[[str, str, AddDownload], str] | None = None) -> Task:
    """The task an add makes. ``seq`` keeps the items of one request in the order sent (the
    queue's order is ``created * 1000 + seq``); ``batch_id``: the batch a ``batch_name``
    alone asks for (a fresh one when None); ``name``: its planned key from (id, filename,
    request) (chalicelib/metadata/service.py), else ``downloads/<id>/<filename>``."""
    filename = req.filename or filenames.from_url(req.url)
    return Task(
        id=task_id,
        owner=owner,
        url=req.url,
        filename=filename,
        key=name(task_id, filename, req) if name else f"downloads/{task_id}/{filename}",
        priority=req.priority,
        order=created * 1000 + seq,
        headers=dict(req.headers),
        checksum=req.checksum,
        batch_id=req.batch_id or batch_id,
        batch_name=req.batch_name,
        category=req.category,
        tags=list(req.tags),
        filename_locked=req.filename is not None,
        created_at=created,
        updated_at=created,
        heartbeat=created,
        speed_limit=req.speed_limit,
        metadata=req.metadata.stored() if req.metadata else None,
        path=req.path,
        naming=req.naming,
        replace=req.replace,
        host=host_of(req.url) or None,  # as stored: an add may answer without reading it back
    )


def owner_scan_pages(state_counts: dict[str, int]) -> int:
    """Queries needed to read the owner's tasks in every duplicate state (one per state at
    least, then one per page)."""
    return sum(max(1, math.ceil(max(0, state_counts.get(s.value, 0)) / TASKS_PER_PAGE)) for s in DUPLICATE_STATES)


def scan_owner(distinct_urls: int, state_counts: dict[str, int] | None) -> bool:
    """Whether reading the owner's active and completed tasks (one Query per state and page)
    costs fewer round trips than one by-url Query per distinct URL. Without counts, the URLs."""
    if state_counts is None or distinct_urls <= len(DUPLICATE_STATES):
        return False
    return owner_scan_pages(state_counts) < distinct_urls


def newest_duplicate(owner: str, candidates: Iterable[Task]) -> Task | None:
    """Of the tasks found for one URL, the owner's newest that is queued, downloading, paused
    or completed."""
    best: Task | None = None
    for task in candidates:
        if task.owner != owner or task.state not in DUPLICATE_STATES:
            continue
        if best is None or (task.created_at, task.id) > (best.created_at, best.id):
            best = task
    return best
