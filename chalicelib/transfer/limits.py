"""The limits a lane reads under (issue #5): its share of the speed limit, the minimum speed
(a slow download goes back to the queue when others wait), and per-host connection slots."""

from __future__ import annotations

from collections.abc import Callable

from ..activity.log import ENGINE
from ..domain import ordering
from ..domain.fairness import speed_verdict
from ..domain.pacing import Pacer, effective_limit, lane_share
from ..domain.states import TaskState
from ..domain.task import Task
from ..domain.urls import host_of
from ..engine.hostslots import Lease
from ..settings.store import EngineSettings
from .context import HOST_WAIT_SECONDS, WAITING_NOTE, Context
from .messages import Message, body


class Limits:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def pacer(self, task: Task, lanes: int, floor: float, lease: Lease | None) -> tuple[Pacer, Callable[[Task], None]]:
        """A pacer at this lane's share of the task's speed limit, and what adopts the limit
        (and renews the host slot) from each progress write."""

        def share(now: Task) -> float:
            limit = effective_limit(now.speed_limit, self.ctx.settings.get().default_speed_limit)
            # Lanes that ran out of parts wrote a speed of 0: the others share their part.
            done = sum(1 for v in now.lane_speed.values() if v == 0)
            return lane_share(limit, max(1, lanes - done), floor)

        pacer = Pacer(share(task))

        def adopt(now: Task) -> None:
            pacer.set_rate(share(now))
            if lease is not None:
                lease.renew()
            self.watch_speed(now)

        return pacer, adopt

    def watch_speed(self, task: Task) -> None:
        """A download slower than ``min_speed`` for ``min_speed_seconds`` goes back to the queue,
        behind its owner's other downloads, if someone else's download waits for a slot: the
        part in flight still lands (as after a queue stop), and started again it fetches only
        what it lacks. A stream (no byte ranges) is left alone: it would start over from zero."""
        settings = self.ctx.settings.get()
        if (settings.min_speed <= 0 and task.slow_since is None) or not task.resumable:
            return
        repo, now = self.ctx.repo, self.ctx.now_ms()
        verdict = speed_verdict(task.speed, settings.min_speed, settings.min_speed_seconds, task.slow_since, now)
        if verdict == "slow":
            repo.mark_slow(task, now)
        elif verdict == "clear":
            repo.clear_slow(task)
        elif verdict == "requeue":
            if not repo.ids_in_state(TaskState.QUEUED, limit=1):
                # Nobody waits: carry on, and look again after another min_speed_seconds.
                repo.renew_slow(task, now)
                return
            note = (f"back in the queue: slower than {settings.min_speed} bytes/s for "
                    f"{settings.min_speed_seconds} s while other downloads waited")
            if self.ctx.engine.send_back(task, ENGINE, note, order=ordering.bottom_order(now)) is not None:
                self.ctx.engine.kick()

    def host_lease(self, task: Task, lane: str, settings: EngineSettings) -> tuple[bool, Lease | None]:
        """A host slot for one connection: (True, the lease), (True, None) when there is no
        limit (no request made), (False, None) when every slot is taken."""
        limit = settings.per_host_connections
        host = task.host or host_of(task.url)
        if limit <= 0 or not host:
            return True, None
        hosts = self.ctx.hosts
        lease = Lease(hosts, host, f"{task.id}#{lane}", limit, clock=self.ctx.clock.monotonic)
        if not hosts.acquire(host, lease.slot, limit):
            return False, None
        if task.note and task.note.startswith(WAITING_NOTE):
            self.ctx.repo.clear_note(task, task.note)
        return True, lease

    def await_host(self, task: Task, msg: Message, settings: EngineSettings) -> None:
        """Every connection to the host is taken: handle this message again in 1-5 s.

        The copy is the same message (its token may claim again; ``attempt`` is untouched), so
        waiting is no failed attempt. It is dropped once the task stops downloading; the
        heartbeat is kept fresh meanwhile, so the reconciler does not take it for stalled."""
        host = task.host or host_of(task.url)
        note = f"{WAITING_NOTE}{host} (at most {settings.per_host_connections} at once)"
        if task.note != note or self.ctx.now_ms() - task.heartbeat > 15_000:
            if self.ctx.repo.note_waiting(task, note) is None:
                return
        delay = min(HOST_WAIT_SECONDS, 1 + int(self.ctx.rand() * HOST_WAIT_SECONDS))
        self.ctx.queue.send(body(msg), delay=delay)
