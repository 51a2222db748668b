"""The reconciler: re-dispatches downloads that stopped making progress.

A worker that died mid-part is covered by SQS redelivery; this is the backstop for the
rest (a lost message, a runtime restarted against a backend that kept its state, a
finalisation that died halfway). A re-dispatched task is re-probed and fetches only the
parts it is missing.
"""

from __future__ import annotations

import logging

from .dispatcher import Dispatcher
from .domain.states import TaskState
from .models import TaskModel
from .repository import TaskRepository, now_ms
from .workqueue import WorkQueue

log = logging.getLogger("haul.reconcile")


class Reconciler:
    def __init__(
        self, repo: TaskRepository, queue: WorkQueue, dispatcher: Dispatcher, stall_seconds: float
    ) -> None:
        self._repo = repo
        self._queue = queue
        self._dispatcher = dispatcher
        self._stall_ms = int(stall_seconds * 1000)

    def run(self, quiet_since_ms: int | None = None) -> int:
        """Re-dispatch stalled downloads, then dispatch; the number re-dispatched.

        A download is stalled when its heartbeat is older than the stall timeout, or, when
        ``quiet_since_ms`` is given (a runtime starting up), older than that moment.
        """
        cutoff = quiet_since_ms if quiet_since_ms is not None else now_ms() - self._stall_ms
        revived = 0
        for task_id in self._repo.ids_in_state(TaskState.DOWNLOADING):
            task = self._repo.get(task_id)
            if task is None or task.heartbeat >= cutoff:
                continue
            moved = self._repo.update(
                task,
                [
                    TaskModel.run.add(1),
                    TaskModel.phase.set("starting"),
                    TaskModel.finalizing.remove(),
                    TaskModel.lane_speed.set({}),
                    TaskModel.heartbeat.set(now_ms()),
                ],
                (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run),
            )
            if moved is None:
                continue
            log.info("task %s: no progress for %d s; re-dispatching", task.id, (now_ms() - task.heartbeat) // 1000)
            self._queue.send({"kind": "start", "task": task.id, "run": moved.run})
            revived += 1
        self._dispatcher.kick()
        return revived
