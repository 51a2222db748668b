"""What the WebSocket handlers do: connect, answer client messages, disconnect.

A client message never closes the connection: anything wrong with it is answered with an
``error`` message (the REST API's error envelope).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

from ..auth.ratelimit import RateLimiter
from . import messages as m
from .auth import Identity
from .connections import Connection, ConnectionStore, TooManyRooms
from .publisher import DeliveryReport, Publisher
from .queries import TaskReader

log = logging.getLogger("haul.realtime.session")


# What one connection may ask for per minute: a message costs 1, and each room a sync or a
# subscribe reads costs 1 more (a snapshot is a query), so a flood of pings and a sync of 100
# rooms in a loop both meet the limit. Over it, one ``error`` (RATE_LIMITED) says so; further
# messages in that minute are dropped unanswered.
MESSAGE_BUDGET_PER_MINUTE = 300
SEARCH_COST = 10


def cost_of(command: m.Command | None, joined: int = 0) -> int:
    """What a client message costs against its connection's budget (``joined``: the rooms
    the connection is in, which a sync without rooms reads)."""
    if command is None or command.action in (m.PING, m.UNSUBSCRIBE):
        return 1
    if command.action == m.SEARCH:  # pages of queries, streamed
        return SEARCH_COST
    if command.action == m.SYNC and not command.rooms:
        return 1 + joined
    return 1 + len(command.rooms)


# (connection's identity, search arguments, the client's ref) -> the messages to send, as found.
Searcher = Callable[[Identity, dict[str, Any], Any], Iterator[dict[str, Any]]]


class Session:
    def __init__(self, store: ConnectionStore, reader: TaskReader, limiter: RateLimiter | None = None,
                 budget: int = MESSAGE_BUDGET_PER_MINUTE, searcher: Searcher | None = None) -> None:
        self.store = store
        self.reader = reader
        self.limiter = limiter
        self.budget = budget
        self.searcher = searcher

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
            if not self._within_budget(connection_id, body, request_id, out):
                return DeliveryReport() if not out else publisher.deliver({connection_id: [m.encode(x) for x in out]})
            command = m.parse_command(body)
            if command.action == m.SEARCH:
                return self._search(connection_id, command, publisher, request_id)
            self._answer(connection_id, command, request_id, out)
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

    def _within_budget(self, connection_id: str, body: str | None, request_id: str | None,
                       out: list[dict[str, Any]]) -> bool:
        """Count the message against its connection's budget; False (and, the first time in the
        minute, an error in ``out``) when it is over."""
        if self.limiter is None or self.budget <= 0:
            return True
        try:
            command: m.Command | None = m.parse_command(body)
        except m.BadMessage:
            command = None
        joined = 0
        if command is not None and command.action == m.SYNC and not command.rooms:
            conn = self.store.get(connection_id)
            joined = len(conn.rooms) if conn else 0
        cost = cost_of(command, joined)
        verdict = self.limiter.hit("ws", connection_id, self.budget, cost)
        if verdict.allowed:
            return True
        if verdict.count - cost <= self.budget:  # the message that went over: say so, once
            out.append(m.error(
                "RATE_LIMITED", f"this connection asked for more than {self.budget} units in a minute (a message is 1, "
                f"each room of a sync or subscribe 1 more); messages are dropped for {verdict.retry_after} s",
                ref=command.ref if command else None, request_id=request_id,
            ))
        else:
            log.info("connection %s: over its budget, message dropped", connection_id)
        return False

    def _search(self, connection_id: str, command: m.Command, publisher: Publisher,
                request_id: str | None) -> DeliveryReport:
        """Stream a search's messages to the client as they are found: each is posted at once
        (API Gateway REST answers once; the WebSocket can stream). Stops if the client left."""
        report = DeliveryReport()

        def send(msg: dict[str, Any]) -> bool:
            sent = publisher.deliver({connection_id: [m.encode(msg)]})
            report.sent += sent.sent
            report.gone |= sent.gone
            return not sent.gone

        conn = self.store.get(connection_id)
        try:
            if conn is None:
                raise m.BadMessage("NOT_CONNECTED", "this connection is not registered (expired?); reconnect",
                                   ref=command.ref)
            if self.searcher is None:
                raise m.BadMessage("UNKNOWN_ACTION", "search is not available here", "action", command.ref)
            for msg in self.searcher(conn.identity, command.args, command.ref):
                if not send(msg):
                    break
        except m.BadMessage as exc:
            send(m.error(exc.code, exc.text, exc.field, exc.ref, request_id))
        except Exception:
            log.exception("connection %s: search failed (request %s)", connection_id, request_id)
            send(m.error("INTERNAL_ERROR", "something went wrong on our side; the request id helps find it",
                         ref=command.ref, request_id=request_id))
        if report.gone:
            self.store.remove(connection_id)
        return report

    def _answer(self, connection_id: str, command: m.Command, request_id: str | None,
                out: list[dict[str, Any]]) -> None:
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
            if (
                room.startswith(m.DOWNLOAD_PREFIX)
                and self.reader.one(conn.owner, room[len(m.DOWNLOAD_PREFIX) :]) is None
            ):
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
