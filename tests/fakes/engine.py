"""In-memory fakes of what the dispatcher and the services read and record: the settings,
the dispatcher's lease, the queue's state, the fair dispatcher's waiting list, the activity
log, the per-host connection slots, and a dispatcher stand-in for the transfer's unit tests."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from chalicelib.domain.fairness import FORGET_AFTER_MS, NOTE_EVERY, Waiting
from chalicelib.domain.task import Task
from chalicelib.engine.hostslots import LEASE_SECONDS
from chalicelib.engine.queuecontrol import ENGINE, QueueStatus
from chalicelib.settings.store import EngineSettings, SettingsVersion
from tests.fakes.clock import ManualClock
from tests.fakes.tasks import FakeTasks


class FakeSettings:
    def __init__(self, settings: EngineSettings | None = None) -> None:
        self.settings = settings or EngineSettings()

    def get(self) -> EngineSettings:
        return self.settings

    def current(self) -> SettingsVersion:
        return SettingsVersion(1, self.settings)

    def change(self, **values: Any) -> None:
        self.settings = replace(self.settings, **values)


class FakeLease:
    """The dispatcher's lease (chalicelib/persistence/lease.py) in memory."""

    def __init__(self) -> None:
        self.holder: str | None = None
        self.expires = 0
        self.dirty = False
        self._lock = threading.Lock()

    def acquire(self, holder: str, now: int, lease_ms: int) -> bool:
        with self._lock:
            if self.holder is not None and self.expires >= now:
                return False
            self.holder, self.expires, self.dirty = holder, now + lease_ms, False
            return True

    def mark_dirty(self, now: int) -> bool:
        with self._lock:
            if self.holder is None or self.expires < now:
                return False
            self.dirty = True
            return True

    def release(self, holder: str, now: int, lease_ms: int) -> bool:
        with self._lock:
            if self.holder == holder and not self.dirty:
                self.holder = None
                return True
            if self.holder != holder:
                return True
            self.dirty, self.expires = False, now + lease_ms
            return False

    def force_release(self, holder: str) -> None:
        with self._lock:
            if self.holder == holder:
                self.holder = None


class FakeGate:
    """The queue's state (chalicelib/persistence/queue.py ``DynamoQueueState``) in memory: each
    write raises the version, like the stored item's compare-and-swap."""

    def __init__(self, clock: ManualClock | None = None, state: QueueStatus | None = None) -> None:
        self.clock = clock or ManualClock()
        self.state = state or QueueStatus()
        self._lock = threading.Lock()

    def status(self) -> QueueStatus:
        return self.state

    def _write(self, running: bool, paused_until: int | None, actor: str) -> QueueStatus:
        now = self.clock.now_ms()
        self.state = QueueStatus(running, paused_until, actor, now, max(now, (self.state.version or 0) + 1))
        return self.state

    def start(self, actor: str) -> QueueStatus:
        with self._lock:
            return self._write(True, None, actor)

    def stop(self, actor: str) -> QueueStatus:
        with self._lock:
            return self._write(False, None, actor)

    def pause(self, actor: str, until_ms: int) -> QueueStatus:
        with self._lock:
            return self._write(False, until_ms, actor)

    def resume_if_due(self, now: int) -> bool:
        with self._lock:
            if not self.state.due(now):
                return False
            self._write(True, None, ENGINE)
            return True


class FakeWaiting:
    """The owners with queued work (chalicelib/persistence/waiting.py WaitingOwners): a process
    notes an owner at most once per NOTE_EVERY seconds (a later note moves the time noted), and
    an owner is forgotten only on the very note read, once it is FORGET_AFTER_MS old."""

    def __init__(self, clock: ManualClock, tasks: FakeTasks | None = None) -> None:
        self.clock = clock
        self.noted: dict[str, int] = {}
        self.served: dict[str, int] = {}
        self._recent: dict[str, float] = {}
        self._tasks = tasks

    def read(self) -> Waiting:
        if self._tasks is not None:  # what the real store notes on each write to queued
            for owner in self._tasks.queued_owners - set(self.noted):
                self.noted[owner] = self.clock.now_ms()
        return Waiting(dict(self.noted), dict(self.served))

    def note(self, owner: str) -> None:
        now = self.clock.monotonic()
        if now - self._recent.get(owner, -NOTE_EVERY) < NOTE_EVERY:
            return
        self._recent[owner] = now
        self.noted[owner] = self.clock.now_ms()

    def mark_served(self, owners: Iterable[str], at: int | None = None) -> None:
        for owner in owners:
            self.served[owner] = self.clock.now_ms() if at is None else at

    def forget(self, owner: str, noted: int) -> bool:
        if self.clock.now_ms() - noted < FORGET_AFTER_MS or self.noted.get(owner) != noted:
            return False
        del self.noted[owner]
        self.served.pop(owner, None)
        self._recent.pop(owner, None)
        if self._tasks is not None:
            self._tasks.queued_owners.discard(owner)
        return True


class FakeActivity:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record(
        self, *, owner: str | None, actor: str, kind: str, message: str, level: str = "info",
        task_id: str | None = None, batch_id: str | None = None, data: dict[str, Any] | None = None,
        at: int | None = None,
    ) -> None:
        self.entries.append({"owner": owner, "actor": actor, "kind": kind, "message": message,
                             "task_id": task_id, "batch_id": batch_id, "data": data})

    def kinds(self) -> list[str]:
        return [e["kind"] for e in self.entries]


class FakeEngine:
    """The dispatcher as the transfer sees it: counts kicks, sends a task back in the store."""

    def __init__(self, tasks: FakeTasks) -> None:
        self.tasks = tasks
        self.kicks = 0

    def kick(self) -> int:
        self.kicks += 1
        return 0

    def request_kick(self) -> bool:
        self.kick()
        return True

    def kick_and_keep(self) -> Task | None:
        self.kick()
        return None

    def send_back(self, task: Task, actor: str, note: str, order: int | None = None) -> Task | None:
        return self.tasks.send_back(task, actor, note, order)


class FakeHostSlots:
    """The connection slots per origin host (chalicelib/persistence/hostslots.py) in memory."""

    def __init__(self, clock: ManualClock, lease_seconds: int = LEASE_SECONDS) -> None:
        self._clock = clock
        self.lease_seconds = lease_seconds
        self.slots: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def acquire(self, host: str, slot: str, limit: int) -> bool:
        if limit <= 0:
            return True
        now = self._clock.now_ms() / 1000
        with self._lock:
            held = self.slots.setdefault(host.lower(), {})
            if slot not in held and len(held) >= limit:
                # Full: the slots whose lease ran out are freed (as the store does only then).
                for other in [k for k, expires in held.items() if expires < now]:
                    del held[other]
                if len(held) >= limit:
                    return False
            held[slot] = int(now) + self.lease_seconds
            return True

    def release(self, host: str, slot: str) -> None:
        with self._lock:
            self.slots.get(host.lower(), {}).pop(slot, None)

    def held(self, host: str) -> dict[str, int]:
        with self._lock:
            return dict(self.slots.get(host.lower(), {}))
