"""WebSocket connections and their room subscriptions (what is kept: ports.ConnectionRecords,
in DynamoDB chalicelib/persistence/connections.py).

A connection's record holds the identity the client connected with and the rooms it joined;
the fan-out finds all the subscribers of an owner's rooms at once. Records expire after API
Gateway's two-hour connection limit (plus a margin): the store's TTL removes what a lost
``$disconnect`` left behind, and expired records are skipped here before it gets to them.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..domain.clock import SYSTEM_CLOCK, Clock
from .auth import Identity
from .messages import MAX_ROOMS_PER_CONNECTION
from .ports import Connection, ConnectionRecords

# API Gateway closes a WebSocket connection after two hours, whatever happens on it.
MAX_CONNECTION_SECONDS = 2 * 3600
TTL_MARGIN_SECONDS = 600

__all__ = ["Connection", "ConnectionStore", "TooManyRooms"]


class TooManyRooms(ValueError):
    pass


class ConnectionStore:
    def __init__(
        self,
        records: ConnectionRecords,
        lifetime_seconds: int = MAX_CONNECTION_SECONDS + TTL_MARGIN_SECONDS,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.records = records
        self._lifetime = lifetime_seconds
        self._clock = clock

    def _now_s(self) -> int:
        return self._clock.now_ms() // 1000

    def add(self, connection_id: str, identity: Identity) -> Connection:
        now_ms = self._clock.now_ms()
        conn = Connection(connection_id, identity, frozenset(), now_ms, now_ms // 1000 + self._lifetime)
        self.records.put(conn)
        return conn

    def get(self, connection_id: str, include_expired: bool = False) -> Connection | None:
        conn = self.records.find(connection_id)
        if conn is None or (not include_expired and conn.expires * 1000 <= self._clock.now_ms()):
            return None
        return conn

    def subscribe(self, conn: Connection, rooms: Iterable[str]) -> tuple[Connection, list[str]]:
        """Join ``rooms``; the connection as it is now and the rooms that are new to it."""
        new = [r for r in dict.fromkeys(rooms) if r not in conn.rooms]
        if not new:
            return conn, []
        if len(conn.rooms) + len(new) > MAX_ROOMS_PER_CONNECTION:
            raise TooManyRooms(f"a connection may join at most {MAX_ROOMS_PER_CONNECTION} rooms")
        self.records.join(conn, new)
        return Connection(conn.id, conn.identity, conn.rooms | set(new), conn.connected_at, conn.expires), new

    def unsubscribe(self, conn: Connection, rooms: Iterable[str]) -> tuple[Connection, list[str]]:
        gone = [r for r in dict.fromkeys(rooms) if r in conn.rooms]
        if not gone:
            return conn, []
        self.records.leave(conn, gone)
        return Connection(conn.id, conn.identity, conn.rooms - set(gone), conn.connected_at, conn.expires), gone

    def remove(self, connection_id: str, owner: str | None = None, rooms: Iterable[str] = ()) -> bool:
        """Forget a connection and its subscriptions (those it recorded, and ``rooms``)."""
        conn = self.get(connection_id, include_expired=True)
        all_rooms = set(rooms)
        if conn is not None:
            all_rooms |= conn.rooms
            owner = conn.owner
        self.records.forget(connection_id, owner, all_rooms)
        return conn is not None

    def of_user(self, owner: str) -> list[tuple[str, str | None]]:
        """(connection id, login session id or None) of every live connection of ``owner``."""
        return [(cid, identity.session_id) for cid, identity in self.records.of_user(owner, self._now_s())]

    def subscribers(self, owner: str) -> dict[str, set[str]]:
        """room -> ids of the live connections of ``owner`` that joined it (one Query)."""
        return self.records.subscribers(owner, self._now_s())
