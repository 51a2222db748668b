"""WebSocket connections and their room subscriptions, in DynamoDB (see ConnectionModel).

A connection item holds the identity the client connected with and the rooms it joined; a
subscription item per room, under the owner's partition, lets the fan-out find all the
subscribers of an owner's rooms with one Query. Both expire after API Gateway's two-hour
connection limit (plus a margin): the TTL removes what a lost ``$disconnect`` left behind,
and readers skip expired items before DynamoDB gets to them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, DoesNotExist

from ..persistence.models import ConnectionModel
from .auth import Identity
from .messages import MAX_ROOMS_PER_CONNECTION

log = logging.getLogger("haul.realtime.connections")

# API Gateway closes a WebSocket connection after two hours, whatever happens on it.
MAX_CONNECTION_SECONDS = 2 * 3600
TTL_MARGIN_SECONDS = 600


def _meta_key(connection_id: str) -> tuple[str, str]:
    return f"conn#{connection_id}", "meta"


def _sub_key(owner: str, room: str, connection_id: str) -> tuple[str, str]:
    return f"subs#{owner}", f"{room}#{connection_id}"


def _user_key(owner: str, connection_id: str) -> tuple[str, str]:
    """The owner's list of connections: what ends with the owner's sessions is found here."""
    return f"user#{owner}", connection_id


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


class TooManyRooms(ValueError):
    pass


class ConnectionStore:
    def __init__(self, lifetime_seconds: int = MAX_CONNECTION_SECONDS + TTL_MARGIN_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._lifetime = lifetime_seconds
        self._clock = clock

    def _now_dt(self) -> datetime:
        return datetime.fromtimestamp(int(self._clock()), tz=UTC)

    def add(self, connection_id: str, identity: Identity) -> Connection:
        now = self._clock()
        expires = int(now) + self._lifetime
        pk, sk = _meta_key(connection_id)
        ConnectionModel(
            pk, sk, connection_id=connection_id, owner=identity.owner, identity=identity.as_dict(),
            connected_at=int(now * 1000), expires=datetime.fromtimestamp(expires, tz=UTC),
        ).save()
        if not identity.anonymous:
            ConnectionModel(
                *_user_key(identity.owner, connection_id), connection_id=connection_id, owner=identity.owner,
                identity=identity.as_dict(), expires=datetime.fromtimestamp(expires, tz=UTC),
            ).save()
        return Connection(connection_id, identity, frozenset(), int(now * 1000), expires)

    def get(self, connection_id: str, include_expired: bool = False) -> Connection | None:
        try:
            item = ConnectionModel.get(*_meta_key(connection_id), consistent_read=True)
        except DoesNotExist:
            return None
        expires = int(item.expires.timestamp()) if item.expires else 0
        if not include_expired and expires <= self._clock():
            return None
        return Connection(
            item.connection_id,
            Identity.from_dict(item.identity, item.owner),
            frozenset(item.rooms or ()),
            int(item.connected_at or 0),
            expires,
        )

    def subscribe(self, conn: Connection, rooms: Iterable[str]) -> tuple[Connection, list[str]]:
        """Join ``rooms``; the connection as it is now and the rooms that are new to it."""
        new = [r for r in dict.fromkeys(rooms) if r not in conn.rooms]
        if not new:
            return conn, []
        if len(conn.rooms) + len(new) > MAX_ROOMS_PER_CONNECTION:
            raise TooManyRooms(f"a connection may join at most {MAX_ROOMS_PER_CONNECTION} rooms")
        expires = datetime.fromtimestamp(conn.expires, tz=UTC)
        with ConnectionModel.batch_write() as batch:
            for room in new:
                pk, sk = _sub_key(conn.owner, room, conn.id)
                batch.save(ConnectionModel(pk, sk, connection_id=conn.id, owner=conn.owner, expires=expires))
        ConnectionModel(*_meta_key(conn.id)).update(
            actions=[ConnectionModel.rooms.add(set(new))],
            condition=ConnectionModel.pk.exists(),
        )
        return Connection(conn.id, conn.identity, conn.rooms | set(new), conn.connected_at, conn.expires), new

    def unsubscribe(self, conn: Connection, rooms: Iterable[str]) -> tuple[Connection, list[str]]:
        gone = [r for r in dict.fromkeys(rooms) if r in conn.rooms]
        if not gone:
            return conn, []
        self._delete_subs(conn.owner, conn.id, gone)
        ConnectionModel(*_meta_key(conn.id)).update(
            actions=[ConnectionModel.rooms.delete(set(gone))],
            condition=ConnectionModel.pk.exists(),
        )
        return Connection(conn.id, conn.identity, conn.rooms - set(gone), conn.connected_at, conn.expires), gone

    def remove(self, connection_id: str, owner: str | None = None, rooms: Iterable[str] = ()) -> bool:
        """Forget a connection and its subscriptions (those it recorded, and ``rooms``)."""
        conn = self.get(connection_id, include_expired=True)
        all_rooms = set(rooms)
        if conn is not None:
            all_rooms |= conn.rooms
            owner = conn.owner
        if owner is not None and all_rooms:
            self._delete_subs(owner, connection_id, all_rooms)
        keys = [_meta_key(connection_id)] + ([_user_key(owner, connection_id)] if owner is not None else [])
        for key in keys:
            try:
                ConnectionModel(*key).delete()
            except DeleteError as exc:
                log.debug("deleting connection %s: %s", connection_id, exc)
        return conn is not None

    def of_user(self, owner: str) -> list[tuple[str, str | None]]:
        """(connection id, login session id or None) of every live connection of ``owner``."""
        now = self._now_dt()
        return [
            (item.connection_id, Identity.from_dict(item.identity, owner).session_id)
            for item in ConnectionModel.query(f"user#{owner}", filter_condition=ConnectionModel.expires > now)
        ]

    def subscribers(self, owner: str) -> dict[str, set[str]]:
        """room -> ids of the live connections of ``owner`` that joined it (one Query)."""
        out: dict[str, set[str]] = {}
        now = self._now_dt()
        for item in ConnectionModel.query(f"subs#{owner}", filter_condition=ConnectionModel.expires > now):
            room = item.sk.rsplit("#", 1)[0]
            out.setdefault(room, set()).add(item.connection_id)
        return out

    @staticmethod
    def _delete_subs(owner: str, connection_id: str, rooms: Iterable[str]) -> None:
        with ConnectionModel.batch_write() as batch:
            for room in rooms:
                batch.delete(ConnectionModel(*_sub_key(owner, room, connection_id)))
