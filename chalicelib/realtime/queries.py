"""The reads the real-time side needs: snapshots of a room, active downloads, counts.

Each is a read of the tasks table through ``ports.TaskReads`` (in DynamoDB a Query on an
index, or a GetItem; chalicelib/persistence/rooms.py), never a scan.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ..domain.states import TaskState
from ..domain.task import Task
from .messages import BATCH_PREFIX, DOWNLOAD_PREFIX, DOWNLOADS
from .ports import TaskReads


class TaskReader:
    def __init__(self, reads: TaskReads) -> None:
        self.reads = reads
        self._pool = ThreadPoolExecutor(len(TaskState), thread_name_prefix="counts")

    def room(self, owner: str, room: str) -> list[Task] | None:
        """The tasks of a room, newest first; None if the room names a download that is not the owner's."""
        if room == DOWNLOADS:
            return self.reads.newest_of(owner)
        if room.startswith(BATCH_PREFIX):
            return self.reads.newest_in_batch(owner, room[len(BATCH_PREFIX) :])
        if room.startswith(DOWNLOAD_PREFIX):
            task = self.one(owner, room[len(DOWNLOAD_PREFIX) :])
            return [task] if task is not None else None
        return []

    def one(self, owner: str, task_id: str) -> Task | None:
        task = self.reads.get(task_id)
        return task if task is not None and task.owner == owner else None

    def active(self, owner: str) -> list[Task]:
        """The owner's downloading tasks, as last written."""
        return self.reads.in_state(owner, TaskState.DOWNLOADING)

    def counts(self, owner: str) -> dict[str, int]:
        """Downloads per state (one count per state, in parallel)."""
        states = list(TaskState)
        found = self._pool.map(lambda state: self.reads.count_in_state(owner, state), states)
        return dict(zip([s.value for s in states], found, strict=True))
