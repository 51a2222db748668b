"""The dispatcher: starts queued tasks in priority order while there is room.

Any function may call :meth:`Dispatcher.kick` (the API after an add or resume, a worker when
a task finishes, the schedule as a backstop). Only one kick runs at a time, under a lease in
the control table; a kick that finds the lease taken marks it dirty instead, and the holder
runs once more before it lets go, so no request to dispatch is ever lost.
"""

from __future__ import annotations

import logging
import uuid

from pynamodb.exceptions import DeleteError, PutError, UpdateError

from .domain.states import TaskState
from .models import ControlModel, TaskModel
from .repository import TaskRepository, now_ms
from .settings import SettingsStore
from .workqueue import WorkQueue

LOCK_KEY = "lock#dispatcher"
log = logging.getLogger("haul.dispatch")


def _lost(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


class Dispatcher:
    def __init__(
        self, repo: TaskRepository, queue: WorkQueue, settings: SettingsStore, lease_seconds: int = 30
    ) -> None:
        self._repo = repo
        self._queue = queue
        self._settings = settings
        self._lease_ms = lease_seconds * 1000

    def kick(self) -> int:
        """Start what can be started now; the number of tasks started by this call."""
        holder = uuid.uuid4().hex
        for _ in range(5):
            if self._acquire(holder):
                break
            if self._mark_dirty():
                return 0
        else:
            return 0
        started = 0
        released = False
        try:
            for _ in range(20):
                started += self._dispatch_once()
                if self._release(holder):
                    released = True
                    return started
        finally:
            # Only after an error or 20 rounds: a normal kick has let go already, and a second
            # conditional delete would be one wasted write on every add and every finish.
            if not released:
                self._force_release(holder)
        return started

    def _dispatch_once(self) -> int:
        limit = self._settings.get().max_concurrent_downloads
        room = limit - self._repo.count_in_state(TaskState.DOWNLOADING)
        started = 0
        if room <= 0:
            return 0
        for task_id in self._repo.ids_in_state(TaskState.QUEUED, limit=room):
            task = self._repo.get(task_id)
            if task is None:
                continue
            moved = self._repo.transition(
                task,
                [TaskState.QUEUED],
                TaskState.DOWNLOADING,
                [
                    TaskModel.run.add(1),
                    TaskModel.phase.set("starting"),
                    TaskModel.started_at.set(TaskModel.started_at | now_ms()),
                    TaskModel.heartbeat.set(now_ms()),
                    TaskModel.lane_bytes.set({}),
                    TaskModel.lane_speed.set({}),
                    TaskModel.error.remove(),
                ],
            )
            if moved is None:
                continue
            self._queue.send({"kind": "start", "task": moved.id, "run": moved.run})
            log.info("task %s queued -> downloading (run %s)", moved.id, moved.run)
            started += 1
        return started

    # -- the lease ------------------------------------------------------------------------
    def _acquire(self, holder: str) -> bool:
        now = now_ms()
        item = ControlModel(LOCK_KEY, holder=holder, expires=now + self._lease_ms, dirty=False)
        try:
            item.save(condition=ControlModel.pk.does_not_exist() | (ControlModel.expires < now))
        except PutError as exc:
            if _lost(exc):
                return False
            raise
        return True

    def _mark_dirty(self) -> bool:
        """Ask the current holder to run again; False if there is no holder any more."""
        try:
            ControlModel(LOCK_KEY).update(
                actions=[ControlModel.dirty.set(True)],
                condition=ControlModel.pk.exists() & (ControlModel.expires >= now_ms()),
            )
        except UpdateError as exc:
            if _lost(exc):
                return False
            raise
        return True

    def _release(self, holder: str) -> bool:
        """Let go unless someone asked for another run; then clear the flag and say so."""
        try:
            ControlModel(LOCK_KEY).delete(
                condition=(ControlModel.holder == holder) & (ControlModel.dirty == False)  # noqa: E712
            )
            return True
        except DeleteError as exc:
            if not _lost(exc):
                raise
        try:
            ControlModel(LOCK_KEY).update(
                actions=[
                    ControlModel.dirty.set(False),
                    ControlModel.expires.set(now_ms() + self._lease_ms),
                ],
                condition=ControlModel.holder == holder,
            )
        except UpdateError as exc:
            if _lost(exc):
                return True  # the lease expired and someone else holds it now
            raise
        return False

    def _force_release(self, holder: str) -> None:
        try:
            ControlModel(LOCK_KEY).delete(condition=ControlModel.holder == holder)
        except DeleteError as exc:
            if not _lost(exc):
                raise
