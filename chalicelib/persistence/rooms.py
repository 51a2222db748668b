"""The real-time side's reads of the tasks table (chalicelib/realtime/ports.py ``TaskReads``):
each a Query on an index of the tasks table, or a GetItem, never a scan."""

from __future__ import annotations

from ..domain.states import TaskState
from ..domain.task import Task
from .models import TaskModel
from .repository import to_task


class DynamoTaskReads:
    def newest_of(self, owner: str) -> list[Task]:
        return [to_task(m) for m in TaskModel.by_owner.query(owner, scan_index_forward=False)]

    def newest_in_batch(self, owner: str, batch_id: str) -> list[Task]:
        return [
            to_task(m)
            for m in TaskModel.by_owner.query(
                owner, scan_index_forward=False, filter_condition=TaskModel.batch_id == batch_id
            )
        ]

    def get(self, task_id: str) -> Task | None:
        try:
            return to_task(TaskModel.get(task_id, consistent_read=True))
        except TaskModel.DoesNotExist:
            return None

    def in_state(self, owner: str, state: TaskState) -> list[Task]:
        return [to_task(m) for m in TaskModel.by_owner_state.query(f"{owner}#{state.value}")]

    def count_in_state(self, owner: str, state: TaskState) -> int:
        return int(TaskModel.by_owner_state.count(f"{owner}#{state.value}"))
