"""Whether the queue runs: started, stopped, or paused until a given time.

:class:`QueueSwitch` is the queue's state as the engine sees it (stored as one control-table
item, chalicelib/persistence/queue.py ``DynamoQueueState``; every write a compare-and-swap, so
only one of many concurrent kicks ends a timed pause). The dispatcher reads it before it
starts anything (chalicelib/engine/dispatcher.py): stopped or paused, it starts nothing; a
pause whose time has come is ended by the first kick after it. :class:`QueueControl` is what
the API does with it: start, stop and a timed pause that ends by itself (a delayed ``kick``
work message, with the reconciler's minute tick as the backstop). The time is the injected
clock's (chalicelib/domain/clock.py).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.task import iso
from ..transfer.ports import ActivityRecorder, Queue

if TYPE_CHECKING:
    from ..auth.identity import Identity

log = logging.getLogger("haul.queue")
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
    version: int | None = None  # the stored item's version (None: no item yet)

    def state(self, now: int) -> State:
        """``paused`` while a timed pause lasts at ``now`` (epoch ms); once its time has come
        the queue counts as running (the next kick makes it so in the table)."""
        if self.running:
            return "running"
        if self.paused_until is None:
            return "stopped"
        return "paused" if self.paused_until > now else "running"

    def due(self, now: int) -> bool:
        """A timed pause whose time has come (the queue should run again)."""
        return not self.running and self.paused_until is not None and self.paused_until <= now

    def holds(self, now: int) -> bool:
        """Whether nothing may be dispatched now."""
        return self.state(now) != "running"


class QueueSwitch(Protocol):
    """The queue's stored state (chalicelib/persistence/queue.py ``DynamoQueueState``). Each
    change is written whatever the state was (retrying while concurrent writers win) and
    answers the state written."""

    def status(self) -> QueueStatus: ...
    def start(self, actor: str) -> QueueStatus: ...
    def stop(self, actor: str) -> QueueStatus: ...
    def pause(self, actor: str, until_ms: int) -> QueueStatus: ...

    def resume_if_due(self, now: int) -> bool:
        """End a timed pause whose time has come at ``now``; True only for the one caller that did."""
        ...


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

    def __init__(
        self, store: QueueSwitch, dispatcher: Dispatcher, queue: Queue, activity: ActivityRecorder,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self._dispatcher = dispatcher
        self._queue = queue
        self._activity = activity
        self._clock = clock

    def now_ms(self) -> int:
        """The time on the queue's clock (epoch ms): what a pause's length counts from."""
        return self._clock.now_ms()

    def status(self) -> QueueStatus:
        status = self.store.status()
        if status.due(self._clock.now_ms()):
            self._dispatcher.kick()  # ends the pause (and dispatches)
            status = self.store.status()
        return status

    def view(self, status: QueueStatus) -> dict[str, Any]:
        state = status.state(self._clock.now_ms())
        return {
            "state": state,
            "running": state == "running",
            "paused_until": _iso(status.paused_until) if state == "paused" else None,
            "changed_by": status.changed_by,
            "changed_at": _iso(status.changed_at),
        }

    def start(self, who: Identity) -> QueueStatus:
        before = self.store.status()
        status = self.store.start(who.username)
        self._activity.record(
            owner=None, actor=who.username, kind="queue.start",
            message=f"queue started by {who.username} (it was {before.state(self._clock.now_ms())})",
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
        delay = min(max(1, math.ceil((until_ms - self._clock.now_ms()) / 1000)), 900)
        self._queue.send({"kind": "kick", "until": until_ms}, delay=delay)

    def on_kick(self, msg: dict[str, Any]) -> None:
        """Handle a ``kick`` work message: dispatch, and wait on if its pause still lasts (a
        kick an add asked for, without ``until``, only dispatches)."""
        self._dispatcher.kick()
        until = msg.get("until")
        if until is None:
            return
        status = self.store.status()
        if status.paused_until == until and not status.due(self._clock.now_ms()):
            self.schedule_kick(int(until))
