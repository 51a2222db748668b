"""What the WebSocket handlers do: connect, answer client messages, disconnect.

A client message never closes the connection: anything wrong with it is answered with an
``error`` message (the REST API's error envelope).
"""

from __future__ import annotations

import logging
from typing import Any

from . import messages as m
from .auth import Identity
from .connections import Connection, ConnectionStore, TooManyRooms
from .publisher import DeliveryReport, Publisher
from .queries import TaskReader

log = logging.getLogger("haul.realtime.session")


class Session:
    def __init__(self, store: ConnectionStore, reader: TaskReader) -> None:
        self.store = store
        self.reader = reader

    # -- $connect / $disconnect -----------------------------------------------------------
    def connect(self, connection_id: str, identity: Identity) -> Connection:
        conn = self.store.add(connection_id, identity)
        log.info("connection %s: connected as %s%s", connection_id, identity.owner,
                 " (anonymous)" if identity.anonymous else "")
        return conn

    def disconnect(self, connection_id: str) -> None:
        self.store.remove(connection_id)
        log.info("connection %s: disconnected", connection_id)

    # -- $default -------------------------------------------------------------------------
    def message(self, connection_id: str, body: str | None, publisher: Publisher,
                request_id: str | None = None) -> DeliveryReport:
        """Answer one client message; what was sent (the connection may have gone meanwhile)."""
        out: list[dict[str, Any]] = []
        try:
            self._answer(connection_id, body, request_id, out)
        except m.BadMessage as exc:
            out.append(m.error(exc.code, exc.text, exc.field, exc.ref, request_id))
        except Exception:
            log.exception("connection %s: message failed (request %s)", connection_id, request_id)
            out.append(m.error("INTERNAL_ERROR", "something went wrong on our side; the request id helps find it",
                               request_id=request_id))
        report = publisher.deliver({connection_id: [m.encode(msg) for msg in out]}) if out else DeliveryReport()
        if report.gone:
            self.store.remove(connection_id)
        return report

    def _answer(self, connection_id: str, body: str | None, request_id: str | None,
                out: list[dict[str, Any]]) -> None:
        command = m.parse_command(body)
        if command.action == m.PING:
            out.append(m.pong(command.ref))
            return
        conn = self.store.get(connection_id)
        if conn is None:
            raise m.BadMessage("NOT_CONNECTED", "this connection is not registered (expired?); reconnect",
                               ref=command.ref)
        if command.action == m.SUBSCRIBE:
            self._subscribe(conn, command, out)
        elif command.action == m.UNSUBSCRIBE:
            conn, gone = self.store.unsubscribe(conn, command.rooms)
            out.append(m.subscribed(m.UNSUBSCRIBED, conn.rooms, gone, command.ref))
        elif command.action == m.SYNC:
            rooms = command.rooms or tuple(sorted(conn.rooms))
            self._snapshots(conn, rooms, command.ref, out)

    def _subscribe(self, conn: Connection, command: m.Command, out: list[dict[str, Any]]) -> None:
        rooms: list[str] = []
        errors: list[dict[str, Any]] = []
        for room in command.rooms:
            if room.startswith(m.DOWNLOAD_PREFIX) and self.reader.one(conn.owner, room[len(m.DOWNLOAD_PREFIX):]) is None:
                errors.append(m.error("NOT_FOUND", f"no download with id {room[len(m.DOWNLOAD_PREFIX):]}",
                                      f"rooms[{command.rooms.index(room)}]", command.ref))
                continue
            rooms.append(room)
        out.extend(errors)
        if not rooms:
            return
        try:
            conn, new = self.store.subscribe(conn, rooms)
        except TooManyRooms as exc:
            raise m.BadMessage("TOO_MANY_ROOMS", str(exc), "rooms", command.ref) from None
        out.append(m.subscribed(m.SUBSCRIBED, conn.rooms, new, command.ref))
        # The full state first (subscribed before it is read, so no change falls in between).
        self._snapshots(conn, rooms, command.ref, out)

    def _snapshots(self, conn: Connection, rooms: tuple[str, ...] | list[str], ref: Any,
                   out: list[dict[str, Any]]) -> None:
        for room in rooms:
            if m.is_task_room(room):
                tasks = self.reader.room(conn.owner, room)
                if tasks is None:
                    out.append(m.error("NOT_FOUND", f"no download with id {room[len(m.DOWNLOAD_PREFIX):]}",
                                       "rooms", ref))
                    continue
                out.extend(m.sync_all(room, [t.view() for t in tasks]))
            elif room == m.STATS:
                active = self.reader.active(conn.owner)
                out.append(m.engine_stats(self.reader.counts(conn.owner), sum(t.speed for t in active)))
