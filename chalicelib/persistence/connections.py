"""WebSocket connections and their room subscriptions in DynamoDB (see ConnectionModel): the
real-time side's ``ConnectionRecords`` (chalicelib/realtime/ports.py).

Three kinds of item: a connection (``conn#<id>`` / ``meta``) with the identity it connected
with and the rooms it joined; one subscription per room (``subs#<owner>`` / ``<room>#<id>``),
so the subscribers of an owner's rooms are one Query; and one per authenticated connection
under its user (``user#<owner>`` / ``<id>``), so the connections of a session that ends are
found. All carry ``expires`` (the table's TTL attribute).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from ..realtime.auth import Identity
from ..realtime.ports import Connection, NotConnected
from .conditions import condition_failed
from .models import ConnectionModel

log = logging.getLogger("haul.realtime.connections")


def _meta_key(connection_id: str) -> tuple[str, str]:
    return f"conn#{connection_id}", "meta"


def _sub_key(owner: str, room: str, connection_id: str) -> tuple[str, str]:
    return f"subs#{owner}", f"{room}#{connection_id}"


def _user_key(owner: str, connection_id: str) -> tuple[str, str]:
    """The owner's list of connections: what ends with the owner's sessions is found here."""
    return f"user#{owner}", connection_id


def _when(epoch_s: int) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


class DynamoConnections:
    def put(self, conn: Connection) -> None:
        identity = conn.identity
        ConnectionModel(
            *_meta_key(conn.id),
            connection_id=conn.id,
            owner=conn.owner,
            identity=identity.as_dict(),
            connected_at=conn.connected_at,
            expires=_when(conn.expires),
        ).save()
        if not identity.anonymous:
            ConnectionModel(
                *_user_key(conn.owner, conn.id),
                connection_id=conn.id,
                owner=conn.owner,
                identity=identity.as_dict(),
                expires=_when(conn.expires),
            ).save()

    def find(self, connection_id: str) -> Connection | None:
        try:
            item = ConnectionModel.get(*_meta_key(connection_id), consistent_read=True)
        except DoesNotExist:
            return None
        return Connection(
            item.connection_id,
            Identity.from_dict(item.identity, item.owner),
            frozenset(item.rooms or ()),
            int(item.connected_at or 0),
            int(item.expires.timestamp()) if item.expires else 0,
        )

    def join(self, conn: Connection, rooms: Sequence[str]) -> None:
        expires = _when(conn.expires)
        with ConnectionModel.batch_write() as batch:
            for room in rooms:
                pk, sk = _sub_key(conn.owner, room, conn.id)
                batch.save(ConnectionModel(pk, sk, connection_id=conn.id, owner=conn.owner, expires=expires))
        self._rooms(conn.id, ConnectionModel.rooms.add(set(rooms)))

    def leave(self, conn: Connection, rooms: Sequence[str]) -> None:
        self._delete_subs(conn.owner, conn.id, rooms)
        self._rooms(conn.id, ConnectionModel.rooms.delete(set(rooms)))

    @staticmethod
    def _rooms(connection_id: str, action: Action) -> None:
        try:
            ConnectionModel(*_meta_key(connection_id)).update(actions=[action], condition=ConnectionModel.pk.exists())
        except UpdateError as exc:
            if condition_failed(exc):
                raise NotConnected(connection_id) from exc
            raise

    def forget(self, connection_id: str, owner: str | None, rooms: Iterable[str]) -> None:
        rooms = set(rooms)
        if owner is not None and rooms:
            self._delete_subs(owner, connection_id, rooms)
        keys = [_meta_key(connection_id)] + ([_user_key(owner, connection_id)] if owner is not None else [])
        for key in keys:
            try:
                ConnectionModel(*key).delete()
            except DeleteError as exc:
                log.debug("deleting connection %s: %s", connection_id, exc)

    def of_user(self, owner: str, now_s: int) -> list[tuple[str, Identity]]:
        live = ConnectionModel.expires > _when(now_s)
        return [
            (item.connection_id, Identity.from_dict(item.identity, owner))
            for item in ConnectionModel.query(f"user#{owner}", filter_condition=live)
        ]

    def subscribers(self, owner: str, now_s: int) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        live = ConnectionModel.expires > _when(now_s)
        for item in ConnectionModel.query(f"subs#{owner}", filter_condition=live):
            room = item.sk.rsplit("#", 1)[0]
            out.setdefault(room, set()).add(item.connection_id)
        return out

    @staticmethod
    def _delete_subs(owner: str, connection_id: str, rooms: Iterable[str]) -> None:
        with ConnectionModel.batch_write() as batch:
            for room in rooms:
                batch.delete(ConnectionModel(*_sub_key(owner, room, connection_id)))
