"""The reads the real-time side needs: snapshots of a room, active downloads, counts.

Every one is a Query on an index of the tasks table (or a GetItem), never a scan.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..domain.states import TaskState
from ..domain.task import Task
from ..persistence.models import TaskModel
from ..persistence.repository import to_task
from .messages import BATCH_PREFIX, DOWNLOAD_PREFIX, DOWNLOADS


class TaskReader:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(len(TaskState), thread_name_prefix="counts")

    def room(self, owner: str, room: str) -> list[Task] | None:
        """The tasks of a room, newest first; None if the room names a download that is not the owner's."""
        if room == DOWNLOADS:
            return [to_task(m) for m in TaskModel.by_owner.query(owner, scan_index_forward=False)]
        if room.startswith(BATCH_PREFIX):
            batch_id = room[len(BATCH_PREFIX):]
            return [
                to_task(m) for m in TaskModel.by_owner.query(
                    owner, scan_index_forward=False, filter_condition=TaskModel.batch_id == batch_id
                )
            ]
        if room.startswith(DOWNLOAD_PREFIX):
            task = self.one(owner, room[len(DOWNLOAD_PREFIX):])
            return [task] if task is not None else None
        return []

    def one(self, owner: str, task_id: str) -> Task | None:
        try:
            task = to_task(TaskModel.get(task_id, consistent_read=True))
        except TaskModel.DoesNotExist:
            return None
        return task if task.owner == owner else None

    def active(self, owner: str) -> list[Task]:
        """The owner's downloading tasks, as last written."""
        return [to_task(m) for m in TaskModel.by_owner_state.query(f"{owner}#{TaskState.DOWNLOADING.value}")]

    def counts(self, owner: str) -> dict[str, int]:
        """Downloads per state (one Count query per state, in parallel)."""
        states = [s.value for s in TaskState]
        found = self._pool.map(lambda state: int(TaskModel.by_owner_state.count(f"{owner}#{state}")), states)
        return dict(zip(states, found, strict=True))
