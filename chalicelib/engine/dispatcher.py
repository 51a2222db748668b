"""The dispatcher: starts queued tasks, fairly between users, while there is room.

Any function may call :meth:`Dispatcher.kick` (the API after a resume, a worker when a task
finishes, the schedule as a backstop). A request that adds downloads calls
:meth:`Dispatcher.request_kick` instead: where the configuration says so (``kick_by_message``,
the local runtime and deployed stages) that is a ``kick`` work message a worker turns into a
kick, so the request answers without waiting for a round. Only one kick runs at a time, under a lease in
the control table; a kick that finds the lease taken marks it dirty instead, and the holder
runs once more before it lets go, so no request to dispatch is ever lost.

Nothing is started while the queue is stopped or paused (chalicelib/engine/queuecontrol.py); the
first kick after a timed pause has run out ends the pause and dispatches. Stopping the queue
sends every downloading task back to the queue under the same lease (:meth:`requeue_running`),
so no kick can start one meanwhile.

Fairness (issue #11, item 2; chalicelib/domain/fairness.py): no user has more than
``per_user_limit`` downloads running, and each free slot goes to the waiting user with the
fewest running, ties to the one served longest ago; a user's own priorities and queue order
rank only their own queue. The users with queued work are kept in one control-table item
(chalicelib/persistence/waiting.py), so a round reads the head of each chosen user's queue (the
``by-owner-queue`` index), never the whole queue.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.fairness import Waiting, fair_pick, take_back
from ..domain.states import TaskState
from ..domain.task import Task, rank
from ..transfer.messages import start_body
from ..transfer.ports import ActivityRecorder, Queue, Settings, TaskStore
from .queuecontrol import ENGINE, QueueStatus

# Starts of one round run side by side (a round starts at most max_concurrent_downloads).
_starts = ThreadPoolExecutor(8, thread_name_prefix="dispatch")
# A round's independent reads run side by side: a freed slot waits for the round's sequential
# round trips, so each one saved refills it sooner.
_reads = ThreadPoolExecutor(4, thread_name_prefix="dispatch-read")
# The phase of a task the queue's stop (or timed pause) sent back from downloading.
HELD = "held"  # (the task store writes it: chalicelib/persistence/tasks.py send_back)
log = logging.getLogger("haul.dispatch")


class DispatchLease(Protocol):
    """One dispatching kick at a time (chalicelib/persistence/lease.py ``DynamoLease``)."""

    def acquire(self, holder: str, now: int, lease_ms: int) -> bool: ...
    def mark_dirty(self, now: int) -> bool: ...
    def release(self, holder: str, now: int, lease_ms: int) -> bool: ...
    def force_release(self, holder: str) -> None: ...


class QueueGate(Protocol):
    """Whether the queue runs (chalicelib/engine/queuecontrol.py ``QueueSwitch``)."""

    def status(self) -> QueueStatus: ...
    def resume_if_due(self, now: int) -> bool: ...


class WaitingList(Protocol):
    """The owners with queued work and their turns (chalicelib/persistence/waiting.py ``WaitingOwners``)."""

    def read(self) -> Waiting: ...
    def note(self, owner: str) -> None: ...
    def mark_served(self, owners: Iterable[str], at: int | None = None) -> None: ...
    def forget(self, owner: str, noted: int) -> bool: ...


class Dispatcher:
    def __init__(
        self, repo: TaskStore, queue: Queue, settings: Settings, *, control: QueueGate,
        activity: ActivityRecorder, waiting: WaitingList, lease: DispatchLease, lease_seconds: int = 30,
        clock: Clock = SYSTEM_CLOCK, kick_by_message: bool = False,
    ) -> None:
        """Every collaborator is passed in (chalicelib/container.py builds them).
        ``kick_by_message``: :meth:`request_kick` sends a ``kick`` work message instead of
        kicking in the caller's thread."""
        self._repo = repo
        self._queue = queue
        self._settings = settings
        self._lease = lease
        self._lease_ms = lease_seconds * 1000
        self._clock = clock
        self.control = control
        self._activity = activity
        self.waiting = waiting
        self._kick_by_message = kick_by_message

    def request_kick(self) -> bool:
        """Ask for a round after a request queued work: a ``kick`` work message (one SendMessage;
        a worker runs the round, functions/worker/handlers.py) when so configured, else :meth:`kick` in
        this thread, as also when the message cannot be sent. True if the round ran here."""
        if self._kick_by_message:
            try:
                self._queue.send({"kind": "kick"})
                return False
            except Exception:
                log.exception("the kick message could not be sent; dispatching now instead")
        self.kick()
        return True

    def kick(self) -> int:
        """Start what can be started now; the number of tasks started by this call.

        The queue's status is read under the lease only (a stop takes the lease after it
        stopped the queue, so a status read before the lease could be stale): a kick while the
        queue is held costs the lease's two writes instead of one read, and every other kick
        one read less."""
        return self._kick(None)

    def kick_and_keep(self) -> Task | None:
        """:meth:`kick` for a worker whose download just finished, so its slot is free: of the
        tasks the round starts (the same fair picks as any round), the first is not sent a
        start message but handed back, started (downloading, its new run), for the caller to
        run now. None when the round started nothing here (nothing queued, no room, or
        another kick held the lease: its holder runs once more and sends the starts)."""
        kept: list[Task] = []
        self._kick(kept)
        return kept[0] if kept else None

    def _kick(self, keep: list[Task] | None) -> int:
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
                started += self._dispatch_once(keep)
                if self._release(holder):
                    released = True
                    return started
        finally:
            # Only after an error or 20 rounds: a normal kick has let go already, and a second
            # conditional delete would be one wasted write on every add and every finish.
            if not released:
                self._force_release(holder)
        return started

    def _may_dispatch(self) -> bool:
        """Whether the queue runs now; ends a timed pause whose time has come (one kick does)."""
        status, now = self.control.status(), self._clock.now_ms()
        if status.due(now):
            if self.control.resume_if_due(now):
                log.info("the timed pause is over: the queue runs again")
                self._activity.record(
                    owner=None, actor=ENGINE, kind="queue.resume",
                    message="the timed pause is over; the queue runs again",
                )
            return True
        return not status.holds(now)

    def _dispatch_once(self, keep: list[Task] | None = None) -> int:
        """One round; ``keep`` (empty): the first task it starts goes there instead of its
        start message being sent (:meth:`kick_and_keep`)."""
        settings = self._settings.get()
        per_user, cap = settings.per_user_limit, settings.max_concurrent_downloads
        # The queue's status, the running tasks and the global queue's head (as many as there
        # are slots at most), read side by side; the head is cut to the room found.
        may = _reads.submit(self._may_dispatch)
        running_read = _reads.submit(self._repo.ids_in_state, TaskState.DOWNLOADING)
        queued = self._repo.ids_in_state(TaskState.QUEUED, limit=max(1, cap))
        running = running_read.result()
        if not may.result():
            return 0
        room = cap - len(running)
        head_limit = max(1, room)
        head = queued[:head_limit]
        # Nothing queued at all ends the round at once (the common kick, after a finish).
        if not head:
            return 0
        if room > 0:
            # The running tasks' owners and the head's tasks (the start of their owners' own
            # queues, where most picks are), side by side.
            owners_read = _reads.submit(self._repo.owners_of, running)
            known = self._repo.get_many(head)
            owner_of = owners_read.result()
        else:
            owner_of = self._repo.owners_of(running)
        busy: dict[str, int] = {}
        for owner in owner_of.values():
            busy[owner] = busy.get(owner, 0) + 1
        if room <= 0:
            # Every slot is taken: only a slot lent beyond a share can be had back.
            if not any(n > per_user for n in busy.values()):
                return 0
            known = self._repo.get_many(head)
        head_owners = {i: t.owner for i, t in known.items()}
        lent = any(n > per_user for n in busy.values())
        if len(head) < head_limit and len(set(head_owners.values())) == 1 and not lent:
            # The whole queue is one user's and no slot is lent: no turns to take, no slot to
            # take back, nothing more to read.
            waiting = Waiting({next(iter(head_owners.values())): self._clock.now_ms()})
        else:
            waiting = self.waiting.read()
            # The head's owners count as waiting even if no add noted them (a bulk write, a
            # table restored).
            for owner in set(head_owners.values()) - set(waiting.noted):
                waiting.noted[owner] = self._clock.now_ms()
                self.waiting.note(owner)
        room += self._take_back(waiting.noted, busy, owner_of, room, per_user)
        if room <= 0:
            return 0
        plan = fair_pick(waiting.noted, busy, waiting.served, room, per_user,
                         self._queue_reader(head, head_owners, head_limit), cap=settings.max_concurrent_downloads)
        # The picks are read in one BatchGetItem (those of the head are in hand already) and
        # started side by side, their start messages sent together: a round costs a few round
        # trips, not three per download it starts.
        found = {**known, **self._repo.get_many([p.task_id for p in plan.picks if p.task_id not in known])}
        chosen = [t for pick in plan.picks if (t := found.get(pick.task_id)) is not None and t.owner == pick.owner]
        started = [task.owner for task in self._start_all(chosen, keep)]
        if started and len(waiting.noted) > 1:  # turns matter only between users
            self.waiting.mark_served(started)
        for owner in plan.idle:
            self.waiting.forget(owner, waiting.noted[owner])
        return len(started)

    def _queue_reader(self, head: list[str], owners: dict[str, str], asked: int) -> Callable[[str, int], list[str]]:
        """``queue_of`` for :func:`fair_pick`, answered from the global queue's head when it can:
        a user's tasks among the head are the start of that user's own queue (the same rank
        order), and all of it when the head is the whole queue."""

        def queue_of(owner: str, n: int) -> list[str]:
            theirs = [i for i in head if owners.get(i) == owner]
            if n <= len(theirs) or len(head) < asked:
                return theirs[:n]
            return self._repo.queue_of(owner, n)

        return queue_of

    def _take_back(
        self, owners: Iterable[str], busy: dict[str, int], owner_of: dict[str, str], room: int, per_user: int
    ) -> int:
        """Slots lent beyond a user's share, sent back to the queue for users under their share
        who have queued work and find no free slot; how many were freed (``busy`` follows)."""
        if not any(n > per_user for n in busy.values()):
            return 0  # nothing lent: the common case costs no read
        starved = [o for o in owners if busy.get(o, 0) < per_user and self._repo.queue_of(o, 1)]
        freed = 0
        for donor in take_back(busy, starved[max(0, room):], per_user):
            theirs = [self._repo.get(i) for i, o in owner_of.items() if o == donor]
            # A resumable download, not finishing: the worst-placed in its owner's queue, the
            # latest started of those (it has the least to lose; its part in flight lands).
            movable = [t for t in theirs if t is not None and t.state == TaskState.DOWNLOADING and t.resumable
                       and t.phase != "finalizing"]
            for task in sorted(movable, key=lambda t: (rank(t.priority, t.order), t.started_at or 0), reverse=True):
                if self.send_back(task, ENGINE, "back in the queue: another user's download needed the slot "
                                  "(fair share); it resumes where it was") is not None:
                    busy[donor] -= 1
                    freed += 1
                    break
        return freed

    def send_back(self, task: Task, actor: str, note: str, order: int | None = None) -> Task | None:
        """Downloading -> queued with a new run: its lanes pass no more work on, while the part
        each is fetching still lands and is recorded (parts are fenced by generation, not run).
        Started again, it resumes its plan and fetches only the parts it is missing. A task that
        is finalising (every part recorded) is left to complete (None). ``order``: a new place
        in its owner's queue (a slow download goes behind the others)."""
        moved = self._repo.send_back(task, actor, note, order)
        if moved is not None:
            log.info("task %s downloading -> queued (%s)", task.id, note)
        return moved

    def _start_all(self, tasks: Sequence[Task], keep: list[Task] | None = None) -> list[Task]:
        """Queued -> downloading for each of ``tasks`` (side by side), then their start
        messages in one SendMessageBatch; the tasks started (not those that moved meanwhile).
        ``keep`` (empty): the first started gets no message, it goes there."""
        if len(tasks) == 1:
            moved = [self._move_to_downloading(tasks[0])]
        else:
            moved = list(_starts.map(self._move_to_downloading, tasks))
        started = [m for m in moved if m is not None]
        kept = 0
        if keep is not None and not keep and started:
            keep.append(started[0])
            kept = 1
        self._queue.send_many(start_body(m) for m in started[kept:])
        for m in started:
            log.info("task %s queued -> downloading (run %s)", m.id, m.run)
        return started

    def _move_to_downloading(self, task: Task) -> Task | None:
        return self._repo.start_download(task, ENGINE)

    # -- stopping: running tasks back to the queue ---------------------------------------
    def requeue_running(self, actor: str, note: str = "queue stopped") -> list[str]:
        """Send every downloading task back to the queue (the queue was stopped or paused).

        Runs under the dispatcher's lease, so no kick starts a task meanwhile; the caller has
        stopped the queue first, so none starts one afterwards either. Each task gets a new
        run: its lanes pass no more work on, while the part each is fetching still lands and
        is recorded (parts are fenced by generation, not run). Started again, the task resumes
        its plan and fetches only the parts it is missing. A task that is finalising (every
        part recorded) is left to complete. The ids sent back, in dispatch order.
        """
        holder = uuid.uuid4().hex
        deadline = time.monotonic() + self._lease_ms / 1000 + 5
        while not self._acquire(holder):
            if time.monotonic() > deadline:
                raise RuntimeError("could not take the dispatcher's lease to stop the queue")
            time.sleep(0.05)
        released = False
        requeued: list[str] = []
        try:
            for task_id in self._repo.ids_in_state(TaskState.DOWNLOADING):
                task = self._repo.get(task_id)
                if task is None or task.state != TaskState.DOWNLOADING:
                    continue
                if self.send_back(task, actor, note) is not None:
                    requeued.append(task.id)
            # Kicks that came meanwhile asked for another round: run it (it starts nothing
            # while the queue is held) before letting go.
            for _ in range(20):
                if self._release(holder):
                    released = True
                    break
                self._dispatch_once()
        finally:
            if not released:
                self._force_release(holder)
        return requeued

    # -- the lease ------------------------------------------------------------------------
    def _acquire(self, holder: str) -> bool:
        return self._lease.acquire(holder, self._clock.now_ms(), self._lease_ms)

    def _mark_dirty(self) -> bool:
        """Ask the current holder to run again; False if there is no holder any more."""
        return self._lease.mark_dirty(self._clock.now_ms())

    def _release(self, holder: str) -> bool:
        """Let go unless someone asked for another run; then clear the flag and say so."""
        return self._lease.release(holder, self._clock.now_ms(), self._lease_ms)

    def _force_release(self, holder: str) -> None:
        self._lease.force_release(holder)
