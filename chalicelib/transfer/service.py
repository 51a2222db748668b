"""``Transfer``: the worker's entry point for work messages and dead letters."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from typing import Any

from ..domain import deadletters
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.restarts import stream_seconds
from ..domain.task import Task
from ..engine.hostslots import HostSlots
from .context import PART_SECONDS, Abandoned, Context
from .delivery import Delivery, Heartbeat
from .lanes import Lanes
from .limits import Limits
from .messages import BadMessage, LaneMessage, StartMessage, StreamMessage, body, parse, started_task
from .outcomes import Outcomes
from .planner import Planner, default_key
from .ports import Engine, ObjectStorage, Origin, Queue, Settings, TaskStore
from .streams import Streams

log = logging.getLogger("haul.transfer")
# A finishing worker starts the next download itself only while its invocation has at least
# this long left: a single-part file is read within PART_SECONDS even under a speed limit.
CHAIN_MARGIN_SECONDS = PART_SECONDS + 60


class Transfer:
    def __init__(
        self,
        repo: TaskStore,
        store: ObjectStorage,
        queue: Queue,
        origin: Origin,
        settings: Settings,
        dispatcher: Engine,
        *,
        hosts: HostSlots,
        visibility_timeout: int = 120,
        progress_interval: float = 1.0,
        rand: Callable[[], float] = random.random,
        clock: Clock = SYSTEM_CLOCK,
        name_key: Callable[[Task, str], str] = default_key,
    ) -> None:
        """``name_key``: the key a starting download stores to, given the file name the probe
        found (chalicelib/metadata/service.py: its metadata, folder and template, claimed
        unique); by default ``downloads/<id>/<filename>``. Starts chain (:meth:`handle`) where
        ``ctx.chain_starts`` is set (the composition root sets it from the configuration)."""
        self.repo = repo
        self.store = store
        self.queue = queue
        self.origin = origin
        self.settings = settings
        self.dispatcher = dispatcher
        self.hosts = hosts
        self.visibility_timeout = visibility_timeout
        self.clock = clock
        self.rand = rand
        # ``rand`` is looked up on each use, so a test may swap it on a built Transfer.
        ctx = Context(repo, store, queue, origin, settings, dispatcher, hosts, clock, lambda: self.rand(),
                      progress_interval, name_key)
        self.ctx = ctx
        self.outcomes = Outcomes(ctx)
        limits = Limits(ctx)
        self.planner = Planner(ctx, self.outcomes, limits)
        self.lanes = Lanes(ctx, self.outcomes, limits)
        self.streams = Streams(ctx, self.outcomes, limits)

    # -- entry point ----------------------------------------------------------------------
    def handle(self, delivery: Delivery) -> None:
        """Handle one work message; a malformed one is logged and dropped (sending it again
        cannot mend it), a task that moved on meanwhile is left off quietly.

        Where starts chain, a download that finishes here keeps one of the starts its kick made
        (Outcomes.slot_freed), and this thread runs it next, and so on while the invocation has
        time: a freed slot is filled without a start message's trip through the queue. A
        chained start that fails unexpectedly gets its start message after all (the queue's
        retries and dead letters take over), as does one there is no time left for."""
        try:
            msg = parse(delivery.body)
        except BadMessage as exc:
            log.error("dropping a malformed work message (%s): %.300s", exc, delivery.body)
            return
        hand = self.ctx.handoff
        deadline = self.clock.monotonic() + delivery.remaining - CHAIN_MARGIN_SECONDS
        with Heartbeat(self.queue, delivery.receipt_handle, self.visibility_timeout):
            hand.open = self.ctx.chain_starts
            try:
                self._run(msg, delivery)
                while (task := hand.take()) is not None:
                    self._chained(StartMessage(task.id, task.run), task, deadline)
            finally:
                hand.open = False
                if (left := hand.take()) is not None:  # kept, then this message failed
                    self.queue.send(body(StartMessage(left.id, left.run)))

    def _run(self, msg: StartMessage | LaneMessage | StreamMessage, delivery: Delivery) -> None:
        try:
            if isinstance(msg, StartMessage):
                # The task the dispatcher started, as the message carries it: on a redelivery
                # it may be out of date (an earlier attempt planned), so that one reads it.
                carried = started_task(delivery.body, msg) if delivery.receive_count <= 1 else None
                self.planner.start(msg, carried)
            elif isinstance(msg, LaneMessage):
                self.lanes.lane(msg, first_delivery=delivery.receive_count <= 1)
            else:
                self.streams.stream(msg, self.clock.monotonic() + stream_seconds(delivery.remaining))
        except Abandoned:
            log.info("task %s: left off (paused, cancelled or re-dispatched)", msg.task)

    def _chained(self, start: StartMessage, task: Task, deadline: float) -> None:
        if self.clock.monotonic() > deadline:
            self.queue.send(body(start))
            return
        try:
            self.planner.start(start, task, chained=True)
        except Abandoned:
            log.info("task %s: left off (paused, cancelled or re-dispatched)", task.id)
        except Exception:
            log.exception("task %s: its chained start failed; sending its start message", task.id)
            self.queue.send(body(start))

    # -- what others call -------------------------------------------------------------------
    def finalize(self, task: Task) -> None:
        self.outcomes.finalize(task)

    def fail(self, task: Task, reason: str) -> None:
        """Downloading -> failed with ``reason`` (this run's; the reconciler calls it too)."""
        self.outcomes.fail(task, reason)

    def dead_letter(self, body: Any, receive_count: str = "?") -> deadletters.Verdict:
        return self.outcomes.dead_letter(body, receive_count)
