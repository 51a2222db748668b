"""What the real-time side needs from storage, named for what it does.

The DynamoDB implementations live in chalicelib/persistence/ (``connections.py``,
``rooms.py``, ``throttle.py``), the in-memory fakes in tests/fakes/realtime.py, and one
contract suite (tests/functional/test_realtime_store_contract.py) holds the two together.
The composition root (chalicelib/container.py) builds the implementations and passes them in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..domain.states import TaskState
from ..domain.task import Task
from .auth import Identity


@dataclass(frozen=True)
class Connection:
    id: str
    identity: Identity
    rooms: frozenset[str]
    connected_at: int  # ms
    expires: int  # epoch seconds

    @property
    def owner(self) -> str:
        return self.identity.owner


class NotConnected(Exception):
    """The connection's record is gone (forgotten or never made): rooms cannot change."""


class ConnectionRecords(Protocol):
    """WebSocket connections and their room subscriptions, as kept across invocations."""

    def put(self, conn: Connection) -> None:
        """Record ``conn`` (and, unless it is anonymous, list it under its owner)."""

    def find(self, connection_id: str) -> Connection | None:
        """The connection as recorded, expired or not; None if there is no record."""

    def join(self, conn: Connection, rooms: Sequence[str]) -> None:
        """Subscribe ``conn`` to ``rooms`` (new to it); NotConnected if its record is gone."""

    def leave(self, conn: Connection, rooms: Sequence[str]) -> None:
        """Unsubscribe ``conn`` from ``rooms``; NotConnected if its record is gone."""

    def forget(self, connection_id: str, owner: str | None, rooms: Iterable[str]) -> None:
        """Drop the connection's record, its place under ``owner`` and its subscriptions to ``rooms``."""

    def of_user(self, owner: str, now_s: int) -> list[tuple[str, Identity]]:
        """(connection id, identity) of ``owner``'s connections that expire after ``now_s``."""

    def subscribers(self, owner: str, now_s: int) -> dict[str, set[str]]:
        """room -> ids of ``owner``'s connections in it that expire after ``now_s``."""


class TaskReads(Protocol):
    """The reads of the tasks table the real-time side makes (each a Query or a GetItem)."""

    def newest_of(self, owner: str) -> list[Task]:
        """``owner``'s tasks, newest first."""

    def newest_in_batch(self, owner: str, batch_id: str) -> list[Task]:
        """``owner``'s tasks of one batch, newest first."""

    def get(self, task_id: str) -> Task | None:
        """One task, read consistently, whoever owns it."""

    def in_state(self, owner: str, state: TaskState) -> list[Task]:
        """``owner``'s tasks in ``state``."""

    def count_in_state(self, owner: str, state: TaskState) -> int:
        """How many of ``owner``'s tasks are in ``state``."""


class Throttle(Protocol):
    """Rate limits that hold across Lambda invocations ("at most every 500 ms")."""

    def acquire(self, name: str, interval_ms: int) -> bool:
        """True (and the time is recorded) if nothing was sent under ``name`` for ``interval_ms``."""

    def mark(self, name: str) -> None:
        """Record a send that happened regardless of the interval."""
