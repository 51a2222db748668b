"""The reconciler: re-dispatches downloads that stopped making progress.

A worker that died mid-part is covered by SQS redelivery; this is the backstop for the
rest (a lost message, a runtime restarted against a backend that kept its state, a
finalisation that died halfway). A re-dispatched task is re-probed and fetches only the
parts it is missing.

It also sweeps the history (chalicelib/engine/retention.py): finished downloads whose retention ran
out are deleted, with their part records, by a Query on the sparse by-expiry index. Stored
files stay where they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.restarts import Restart, decide_restart
from ..domain.states import TaskState
from ..domain.task import Task
from ..transfer.messages import StartMessage, body
from ..transfer.ports import ActivityRecorder, Kicker, Queue, Settings, TaskStore

log = logging.getLogger("haul.reconcile")


class Reconciler:
    def __init__(
        self, repo: TaskStore, queue: Queue, dispatcher: Kicker, stall_seconds: float, *,
        activity: ActivityRecorder | None, fail: Callable[[Task, str], None] | None, settings: Settings | None,
        sweep_batch: int = 500, clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``fail`` (the worker's Transfer.fail) and ``settings``: a download that stalled as
        often as ``retry.max_restarts`` allows fails instead of being revived once more."""
        self._fail = fail
        self._settings = settings
        self._repo = repo
        self._queue = queue
        self._dispatcher = dispatcher
        self._stall_ms = int(stall_seconds * 1000)
        self._activity = activity
        self._sweep_batch = sweep_batch
        self._clock = clock

    def run(self, quiet_since_ms: int | None = None) -> int:
        """Re-dispatch stalled downloads, then dispatch; the number re-dispatched.

        A download is stalled when its heartbeat is older than the stall timeout, or, when
        ``quiet_since_ms`` is given (a runtime starting up), older than that moment.
        """
        cutoff = quiet_since_ms if quiet_since_ms is not None else self._clock.now_ms() - self._stall_ms
        revived = 0
        for task_id in self._repo.ids_in_state(TaskState.DOWNLOADING):
            task = self._repo.get(task_id)
            if task is None or task.heartbeat >= cutoff:
                continue
            # A stall is a restart like any other (a runtime that starts up and resumes what
            # it was running is not: that is no fault of the download's).
            revived += self._revive(task, counted=quiet_since_ms is None)
        try:
            self.sweep()
        except Exception:  # the sweep must not keep stalled downloads from being revived
            log.exception("the history sweep failed; it runs again in a minute")
        self._dispatcher.kick()
        return revived

    def _revive(self, task: Task, counted: bool) -> int:
        """Re-dispatch one stalled download (or fail it, out of restarts); 1 if re-dispatched."""
        fail, settings = self._fail, self._settings
        counted = counted and fail is not None and settings is not None
        quiet = (self._clock.now_ms() - task.heartbeat) // 1000
        if fail is not None and settings is not None and counted:
            decision = decide_restart(Restart.STALLED, task.restarts, settings.get().max_restarts,
                                      f"no progress for {quiet} s")
            if not decision.allowed:
                fail(task, decision.message)
                return 0
        moved = self._repo.revive(task, counted)
        if moved is None:
            return 0
        log.info("task %s: no progress for %d s; re-dispatching", task.id, quiet)
        self._queue.send(body(StartMessage(task.id, moved.run)))
        return 1

    def sweep(self, now_s: int | None = None) -> int:
        """Delete finished downloads whose history retention ran out; how many were deleted.

        At most ``sweep_batch`` per call (the schedule calls every minute). Each delete is
        conditional on the task still being finished and marked, so a download retried
        meanwhile (which loses its marks) is never deleted.
        """
        now_s = int(self._clock.now_ms() // 1000) if now_s is None else now_s
        deleted: list[str] = []
        for task_id in self._repo.expired(now_s, self._sweep_batch):
            if not self._repo.delete_expired(task_id, now_s):
                continue
            self._repo.delete_parts(task_id)
            deleted.append(task_id)
        if deleted:
            log.info("history: %d finished downloads reached their retention; deleted", len(deleted))
            if self._activity is not None:
                self._activity.record(
                    owner=None, actor="engine", kind="history.expire",
                    message=f"{len(deleted)} finished download(s) left the history (retention ran out)",
                    data={"count": len(deleted), "ids": deleted[:100]},
                )
        return len(deleted)
