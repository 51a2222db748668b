"""Every owner's downloads, for admins: Queries on keys-only indexes, then BatchGetItem.

The planning lives in chalicelib/downloads/listing.py: without a status the list walks the by-created
index (every task, newest first); with one (or ``sort=queue``) the by-state index, state by
state in dispatch order. Both are keys only, so a page is one Query for the keys plus one
BatchGetItem (per 100 tasks) for the tasks, never one GetItem per task.
"""

from __future__ import annotations

from ..domain.states import TaskState
from ..domain.task import Task
from ..persistence.models import TaskModel
from ..persistence.repository import TaskRepository, to_task
from .listing import BadCursor, batch_get

__all__ = ["BadCursor", "count_all", "tasks"]


def tasks(ids: list[str]) -> list[Task]:
    """The tasks with these ids, in this order (BatchGetItem; gone ones are skipped)."""
    return [to_task(m) for m in batch_get(ids)]


def count_all(repo: TaskRepository, state: TaskState | None) -> int:
    """Every owner's tasks (in ``state``): COUNT Queries on the by-state index."""
    return sum(repo.count_in_state(s) for s in ([state] if state is not None else list(TaskState)))


def ids_in_state(state: TaskState, limit: int | None = None) -> list[str]:
    return [m.id for m in TaskModel.by_state.query(state.value, limit=limit)]
