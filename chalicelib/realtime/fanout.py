"""The change fan-out: task changes from the tasks table's stream -> WebSocket messages.

One invocation gets a batch of stream records (in order, per shard). For each owner with
changes and with subscribers (one Query finds them all):

- every add, removal and change other than progress becomes TASK_ADDED / TASK_REMOVED /
  TASK_UPDATED (with ``previous_state`` when the state changed) for the subscribers of the
  task's rooms, followed by a ``notification`` when a download completed or failed, and a
  ``log`` line for the ``logs`` room;
- progress writes are coalesced: at most every 500 ms per owner (a conditional write in the
  control table decides, so the limit holds across invocations) one TASK_BATCH_UPDATE
  carries the current figures of every active download, newest first from this batch.
  Progress that arrives inside the interval is not dropped: once this batch's other
  messages are out, the invocation waits for the interval to end (at most 500 ms) and
  sends it then, unless another invocation did meanwhile (the trailing edge);
- ENGINE_STATS goes to the ``stats`` room after any transition, and about every 2 s while
  progress keeps coming (EventBridge cannot tick faster than a minute; the stream can).

Messages to one connection keep the order of the changes; a connection found gone is
forgotten on the spot.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.states import TaskState
from ..domain.task import Task
from ..persistence.repository import task_from_image
from . import messages as m
from .connections import ConnectionStore
from .ports import Throttle
from .publisher import DeliveryReport, Publisher
from .queries import TaskReader

log = logging.getLogger("haul.realtime.fanout")

PROGRESS_INTERVAL_MS = 500
STATS_INTERVAL_MS = 2000


class Outbox:
    """Messages per connection, in the order they were added, each encoded once."""

    def __init__(self) -> None:
        self.by_connection: dict[str, list[str]] = {}
        self.count = 0

    def add(self, connections: Iterable[str], message: dict[str, Any] | None) -> None:
        if message is None:
            return
        targets = list(connections)
        if not targets:
            return
        data = m.encode(message)
        self.count += 1
        for cid in targets:
            self.by_connection.setdefault(cid, []).append(data)


def recipients(subs: dict[str, set[str]], rooms: Iterable[str]) -> set[str]:
    out: set[str] = set()
    for room in rooms:
        out |= subs.get(room, set())
    return out


@dataclass
class Deferred:
    """An owner's progress that arrived inside the interval: sent at its end (the trailing edge)."""

    owner: str
    progress: dict[str, m.Change]
    final_state: dict[str, TaskState | None]
    subs: dict[str, set[str]]
    task_subscribers: set[str]


@dataclass
class FanOutReport:
    records: int = 0
    changes: int = 0
    messages: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)


class FanOut:
    def __init__(
        self,
        store: ConnectionStore,
        reader: TaskReader,
        throttle: Throttle,
        publisher: Publisher | None,
        progress_interval_ms: int = PROGRESS_INTERVAL_MS,
        stats_interval_ms: int = STATS_INTERVAL_MS,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.reader = reader
        self.throttle = throttle
        self.publisher = publisher
        self.progress_interval_ms = progress_interval_ms
        self.stats_interval_ms = stats_interval_ms
        self._sleep = sleep
        self._clock = clock

    def handle(self, records: Iterable[dict[str, Any]]) -> FanOutReport:
        report = FanOutReport()
        by_owner: dict[str, list[m.Change]] = {}
        for record in records:
            report.records += 1
            data = record.get("dynamodb") or {}
            change = m.classify(task_from_image(data.get("OldImage")), task_from_image(data.get("NewImage")))
            if change is not None:
                by_owner.setdefault(change.task.owner, []).append(change)
                report.changes += 1
        if not by_owner:
            return report
        outbox = Outbox()
        rooms_seen: dict[str, tuple[str | None, set[str]]] = {}
        deferred: list[Deferred] = []
        for owner, changes in by_owner.items():
            subs = self.store.subscribers(owner)
            if not subs:
                continue
            for room, cids in subs.items():
                for cid in cids:
                    rooms_seen.setdefault(cid, (owner, set()))[1].add(room)
            later = self.route(owner, changes, subs, outbox)
            if later is not None:
                deferred.append(later)
        self._send(outbox, rooms_seen, report)
        if deferred:
            self._send(self.trailing(deferred), rooms_seen, report)
        return report

    def _send(self, outbox: Outbox, rooms_seen: dict[str, tuple[str | None, set[str]]], report: FanOutReport) -> None:
        report.messages += outbox.count
        if not outbox.by_connection:
            return
        if self.publisher is None:
            log.error(
                "no WebSocket management endpoint is configured (HAUL_WS_ENDPOINT or HAUL_WS_API_ID); "
                "%d message(s) dropped",
                outbox.count,
            )
            return
        delivery = self.publisher.deliver(outbox.by_connection)
        report.delivery.sent += delivery.sent
        report.delivery.failed.update(delivery.failed)
        for cid in delivery.gone - report.delivery.gone:
            seen_owner, rooms = rooms_seen.get(cid, (None, set()))
            self.store.remove(cid, seen_owner, rooms)
            log.info("connection %s is gone; forgotten", cid)
        report.delivery.gone |= delivery.gone

    def trailing(self, deferred: list[Deferred], step: float = 0.05) -> Outbox:
        """Wait for the progress interval to end (at most one interval), then send what waited.

        An owner whose interval another invocation used meanwhile is left alone: that
        invocation's update carried the same figures or newer ones.
        """
        outbox = Outbox()
        waiting = list(deferred)
        # The interval that was lost ends within one interval from now; the last try comes
        # after that, however slowly the tries go, so a failure means another invocation won.
        deadline = self._clock.monotonic() + self.progress_interval_ms / 1000 + step
        while waiting:
            self._sleep(step)
            last = self._clock.monotonic() >= deadline
            for item in list(waiting):
                if self.throttle.acquire(f"progress#{item.owner}", self.progress_interval_ms):
                    waiting.remove(item)
                    self._progress(
                        item.progress,
                        self.reader.active(item.owner),
                        item.final_state,
                        item.subs,
                        item.task_subscribers,
                        outbox,
                    )
            if last:
                break
        return outbox

    def route(self, owner: str, changes: list[m.Change], subs: dict[str, set[str]], outbox: Outbox) -> Deferred | None:
        """Add to ``outbox`` what ``changes`` (one owner's, in order) mean to ``subs``; the
        progress that must wait for the end of the interval, if any."""
        progress: dict[str, m.Change] = {}
        final_state: dict[str, TaskState | None] = {}
        transition = False
        for change in changes:
            task = change.task
            final_state[task.id] = None if change.kind == m.REMOVED else task.state
            if change.kind == m.PROGRESS:
                progress[task.id] = change
                continue
            # A TASK_UPDATED carries the figures too; only later progress is still news.
            progress.pop(task.id, None)
            rooms = m.task_rooms(task.id, task.batch_id)
            outbox.add(recipients(subs, rooms), m.for_change(change))
            transition = transition or change.transition
            outbox.add(recipients(subs, [*rooms, m.NOTIFICATIONS]), m.notification(change))
            outbox.add(subs.get(m.LOGS, set()), m.log_line(change))

        active: list[Task] | None = None
        deferred: Deferred | None = None
        task_subscribers = {cid for room, cids in subs.items() if m.is_task_room(room) for cid in cids}
        if progress and task_subscribers:
            if self.throttle.acquire(f"progress#{owner}", self.progress_interval_ms):
                active = self.reader.active(owner)
                self._progress(progress, active, final_state, subs, task_subscribers, outbox)
            else:
                deferred = Deferred(owner, progress, final_state, subs, task_subscribers)

        if subs.get(m.STATS):
            if transition:
                self.throttle.mark(f"stats#{owner}")
            due = transition or (bool(progress) and self.throttle.acquire(f"stats#{owner}", self.stats_interval_ms))
            if due:
                active = self.reader.active(owner) if active is None else active
                speed = sum(t.speed for t in active if final_state.get(t.id, t.state) == TaskState.DOWNLOADING)
                outbox.add(subs[m.STATS], m.engine_stats(self.reader.counts(owner), speed))
        return deferred

    @staticmethod
    def _progress(
        progress: dict[str, m.Change],
        active: list[Task],
        final_state: dict[str, TaskState | None],
        subs: dict[str, set[str]],
        task_subscribers: set[str],
        outbox: Outbox,
    ) -> None:
        # The freshest figures of every active download, from this batch's images or the
        # index, whichever was written last (so a write that had to wait is carried too).
        newest: dict[str, tuple[Task, dict[str, Any]]] = {}
        for task_id, change in progress.items():
            if final_state.get(task_id) == TaskState.DOWNLOADING:
                newest[task_id] = (change.task, change.view)
        for task in active:
            if final_state.get(task.id, TaskState.DOWNLOADING) != TaskState.DOWNLOADING:
                continue  # this batch saw it finish, pause or go: its TASK_UPDATED said so
            known = newest.get(task.id)
            if known is None or task.updated_at > known[0].updated_at:
                newest[task.id] = (task, task.view())
        if not newest:
            return
        entries = {tid: m.progress_entry(view) for tid, (_, view) in newest.items()}
        batches = {tid: task.batch_id for tid, (task, _) in newest.items()}
        # Connections that joined the same rooms get the same messages: group them.
        groups: dict[frozenset[str], set[str]] = {}
        for cid in task_subscribers:
            rooms = frozenset(room for room, cids in subs.items() if cid in cids and m.is_task_room(room))
            groups.setdefault(rooms, set()).add(cid)
        for rooms, cids in groups.items():
            mine = [e for tid, e in entries.items() if any(r in rooms for r in m.task_rooms(tid, batches[tid]))]
            for update in m.batch_updates(mine):
                outbox.add(cids, update)
