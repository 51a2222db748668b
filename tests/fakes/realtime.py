"""The real-time side's stores in memory (chalicelib/realtime/ports.py): connections and their
rooms, the reads of the tasks table, the cross-invocation throttle. Held to the DynamoDB
implementations by tests/functional/test_realtime_store_contract.py."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.realtime.auth import Identity
from chalicelib.realtime.ports import Connection, NotConnected
from tests.fakes.clock import ManualClock
from tests.fakes.tasks import FakeTasks


@dataclass
class _Sub:
    connection_id: str
    expires: int


class FakeConnections:
    def __init__(self) -> None:
        self.conns: dict[str, Connection] = {}
        self.by_user: dict[str, dict[str, Connection]] = {}
        self.subs: dict[str, dict[tuple[str, str], _Sub]] = {}  # owner -> (room, connection id) -> sub
        self._lock = threading.Lock()

    def put(self, conn: Connection) -> None:
        with self._lock:
            self.conns[conn.id] = conn
            if not conn.identity.anonymous:
                self.by_user.setdefault(conn.owner, {})[conn.id] = conn

    def find(self, connection_id: str) -> Connection | None:
        with self._lock:
            return self.conns.get(connection_id)

    def join(self, conn: Connection, rooms: Sequence[str]) -> None:
        with self._lock:
            for room in rooms:
                self.subs.setdefault(conn.owner, {})[(room, conn.id)] = _Sub(conn.id, conn.expires)
            self._rooms(conn.id, lambda had: had | set(rooms))

    def leave(self, conn: Connection, rooms: Sequence[str]) -> None:
        with self._lock:
            for room in rooms:
                self.subs.get(conn.owner, {}).pop((room, conn.id), None)
            self._rooms(conn.id, lambda had: had - set(rooms))

    def _rooms(self, connection_id: str, change: Callable[[frozenset[str]], frozenset[str]]) -> None:
        found = self.conns.get(connection_id)
        if found is None:
            raise NotConnected(connection_id)
        self.conns[connection_id] = replace(found, rooms=change(found.rooms))

    def forget(self, connection_id: str, owner: str | None, rooms: Iterable[str]) -> None:
        with self._lock:
            if owner is not None:
                for room in rooms:
                    self.subs.get(owner, {}).pop((room, connection_id), None)
                self.by_user.get(owner, {}).pop(connection_id, None)
            self.conns.pop(connection_id, None)

    def of_user(self, owner: str, now_s: int) -> list[tuple[str, Identity]]:
        with self._lock:
            return [(cid, c.identity) for cid, c in self.by_user.get(owner, {}).items() if c.expires > now_s]

    def subscribers(self, owner: str, now_s: int) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        with self._lock:
            for (room, cid), sub in self.subs.get(owner, {}).items():
                if sub.expires > now_s:
                    out.setdefault(room, set()).add(cid)
        return out


class FakeTaskReads:
    """Reads over a FakeTasks' rows (by owner: newest first, as the owner index's created_key)."""

    def __init__(self, tasks: FakeTasks) -> None:
        self.tasks = tasks

    def _of(self, owner: str) -> list[Task]:
        found = [copy.deepcopy(r.task) for r in list(self.tasks.rows.values()) if r.task.owner == owner]
        return sorted(found, key=lambda t: (t.created_at, t.id), reverse=True)

    def newest_of(self, owner: str) -> list[Task]:
        return self._of(owner)

    def newest_in_batch(self, owner: str, batch_id: str) -> list[Task]:
        return [t for t in self._of(owner) if t.batch_id == batch_id]

    def get(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    def in_state(self, owner: str, state: TaskState) -> list[Task]:
        return [t for t in reversed(self._of(owner)) if t.state == state]

    def count_in_state(self, owner: str, state: TaskState) -> int:
        return len(self.in_state(owner, state))


class FakeThrottle:
    """The last send per name, checked and set under one lock (one conditional write)."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, interval_ms: int) -> bool:
        now = self.clock.now_ms()
        with self._lock:
            last = self.sent.get(name)
            if last is not None and last > now - interval_ms:
                return False
            self.sent[name] = now
            return True

    def mark(self, name: str) -> None:
        with self._lock:
            self.sent[name] = self.clock.now_ms()
