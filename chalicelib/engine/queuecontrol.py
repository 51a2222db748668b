"""Whether the queue runs: started, stopped, or paused until a given time.

One item in the control table (``pk = "queue"``) holds ``data = {running, paused_until,
changed_by, changed_at}``; no item means running. Every write is a compare-and-swap on the
item's ``updated_at``, which each write raises strictly, so two writers never both win on
the same version: in particular only one of many concurrent kicks ends a timed pause.

The dispatcher reads this before it starts anything (chalicelib/engine/dispatcher.py): stopped or
paused, it starts nothing; a pause whose time has come is ended by the first kick after it. :class:`QueueControl` is
what the API does with it: start, stop
and a timed pause that ends by itself (a delayed ``kick`` work message, with the
reconciler's minute tick as the backstop).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pynamodb.exceptions import DoesNotExist, PutError

from ..domain.task import iso
from ..persistence.conditions import condition_failed
from ..persistence.models import ControlModel
from ..persistence.repository import now_ms

if TYPE_CHECKING:
    from ..activity.log import ActivityLog
    from ..adapters.sqs import WorkQueue
    from ..auth.identity import Identity

log = logging.getLogger("haul.queue")
QUEUE_KEY = "queue"
MIN_PAUSE_SECONDS = 1
MAX_PAUSE_SECONDS = 30 * 86400
ENGINE = "engine"

State = Literal["running", "stopped", "paused"]


@dataclass(frozen=True)
class QueueStatus:
    running: bool = True
    paused_until: int | None = None  # epoch ms; set only while not running
    changed_by: str | None = None
    changed_at: int | None = None
    version: int | None = None  # the item's updated_at (None: no item yet)

    def state(self, now: int | None = None) -> State:
        """``paused`` while a timed pause lasts; once its time has come the queue counts as
        running (the next kick makes it so in the table)."""
        if self.running:
            return "running"
        if self.paused_until is None:
            return "stopped"
        return "paused" if self.paused_until > (now_ms() if now is None else now) else "running"

    def due(self, now: int | None = None) -> bool:
        """A timed pause whose time has come (the queue should run again)."""
        return (
            not self.running and self.paused_until is not None
            and self.paused_until <= (now_ms() if now is None else now)
        )

    def holds(self, now: int | None = None) -> bool:
        """Whether nothing may be dispatched now."""
        return self.state(now) != "running"


class QueueStore:
    """The queue's state item."""

    def status(self) -> QueueStatus:
        try:
            item = ControlModel.get(QUEUE_KEY, consistent_read=True)
        except DoesNotExist:
            return QueueStatus()
        data = item.data if isinstance(item.data, dict) else {}
        until = data.get("paused_until")
        return QueueStatus(
            running=bool(data.get("running", True)),
            paused_until=int(until) if until is not None else None,
            changed_by=data.get("changed_by"),
            changed_at=data.get("changed_at"),
            version=int(item.updated_at) if item.updated_at is not None else None,
        )

    def _swap(self, seen: QueueStatus, running: bool, paused_until: int | None, actor: str) -> QueueStatus | None:
        """Write the new status if the item is still the one ``seen``; None if it changed."""
        now = now_ms()
        version = max(now, (seen.version or 0) + 1)
        data = {"running": running, "paused_until": paused_until, "changed_by": actor, "changed_at": now}
        cond = (
            ControlModel.pk.does_not_exist() if seen.version is None
            else ControlModel.updated_at == seen.version
        )
        try:
            ControlModel(QUEUE_KEY, data=data, updated_at=version).save(condition=cond)
        except PutError as exc:
            if condition_failed(exc):
                return None
            raise
        return QueueStatus(running, paused_until, actor, now, version)

    def _set(self, running: bool, paused_until: int | None, actor: str) -> QueueStatus:
        for _ in range(10):
            written = self._swap(self.status(), running, paused_until, actor)
            if written is not None:
                return written
        raise RuntimeError("the queue's state kept changing while it was being set")

    def start(self, actor: str) -> QueueStatus:
        return self._set(True, None, actor)

    def stop(self, actor: str) -> QueueStatus:
        return self._set(False, None, actor)

    def pause(self, actor: str, until_ms: int) -> QueueStatus:
        return self._set(False, until_ms, actor)

    def resume_if_due(self, now: int | None = None) -> bool:
        """End a timed pause whose time has come; True only for the one caller that did."""
        seen = self.status()
        if not seen.due(now):
            return False
        return self._swap(seen, True, None, ENGINE) is not None


def _iso(ms: int | None) -> str | None:
    return iso(ms)


class Dispatcher(Protocol):
    """What queue control asks of the dispatcher (chalicelib/engine/dispatcher.py ``Dispatcher``,
    which imports this module for the queue's status: a protocol here keeps the two acyclic)."""

    def kick(self) -> int: ...
    def requeue_running(self, actor: str, note: str = "queue stopped") -> list[str]: ...


class QueueControl:
    """Start, stop and pause the whole queue (the queue is shared: admins only, in the API).

    Stop: the queue takes no more work. Every downloading task goes back to ``queued``
    (phase ``held``): the parts its lanes are fetching still land and are recorded, but no
    lane passes its work on, so nothing new is fetched. Start dispatches them again in
    priority order, and each fetches only the parts it is missing. A timed pause is a stop
    that ends by itself at ``paused_until``.
    """

    def __init__(self, store: QueueStore, dispatcher: Dispatcher, queue: WorkQueue, activity: ActivityLog) -> None:
        self.store = store
        self._dispatcher = dispatcher
        self._queue = queue
        self._activity = activity

    def status(self) -> QueueStatus:
        status = self.store.status()
        if status.due():
            self._dispatcher.kick()  # ends the pause (and dispatches)
            status = self.store.status()
        return status

    @staticmethod
    def view(status: QueueStatus) -> dict[str, Any]:
        return {
            "state": status.state(),
            "running": status.state() == "running",
            "paused_until": _iso(status.paused_until) if status.state() == "paused" else None,
            "changed_by": status.changed_by,
            "changed_at": _iso(status.changed_at),
        }

    def start(self, who: Identity) -> QueueStatus:
        before = self.store.status()
        status = self.store.start(who.username)
        self._activity.record(
            owner=None, actor=who.username, kind="queue.start",
            message=f"queue started by {who.username} (it was {before.state()})",
        )
        log.info("queue started by %s", who.username)
        self._dispatcher.kick()
        return status

    def stop(self, who: Identity) -> QueueStatus:
        status = self.store.stop(who.username)
        held = self._dispatcher.requeue_running(who.username, "queue stopped")
        self._activity.record(
            owner=None, actor=who.username, kind="queue.stop",
            message=f"queue stopped by {who.username}; {len(held)} running download(s) sent back to the queue",
            data={"requeued": held[:100], "requeued_count": len(held)},
        )
        log.info("queue stopped by %s (%d requeued)", who.username, len(held))
        return status

    def pause(self, who: Identity, until_ms: int) -> QueueStatus:
        status = self.store.pause(who.username, until_ms)
        when = _iso(until_ms)
        held = self._dispatcher.requeue_running(who.username, f"queue paused until {when}")
        self.schedule_kick(until_ms)
        self._activity.record(
            owner=None, actor=who.username, kind="queue.pause",
            message=f"queue paused by {who.username} until {when}; {len(held)} running download(s) sent back",
            data={"until": when, "requeued": held[:100], "requeued_count": len(held)},
        )
        log.info("queue paused by %s until %s", who.username, when)
        return status

    def schedule_kick(self, until_ms: int) -> None:
        """A work message that kicks the dispatcher when the pause is over (SQS delays at
        most 15 minutes: a longer pause re-sends it until the time has come)."""
        delay = min(max(1, math.ceil((until_ms - now_ms()) / 1000)), 900)
        self._queue.send({"kind": "kick", "until": until_ms}, delay=delay)

    def on_kick(self, msg: dict[str, Any]) -> None:
        """Handle a ``kick`` work message: dispatch, and wait on if its pause still lasts (a
        kick an add asked for, without ``until``, only dispatches)."""
        self._dispatcher.kick()
        until = msg.get("until")
        if until is None:
            return
        status = self.store.status()
        if status.paused_until == until and not status.due():
            self.schedule_kick(int(until))
