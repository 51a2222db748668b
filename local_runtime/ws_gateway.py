"""API Gateway's WebSocket API, locally: real sockets in front of the unchanged handlers.

Like the real service it

- invokes the app's ``$connect`` handler during the opening handshake with an API-Gateway
  shaped event (query string, headers, identity...) and refuses the handshake with the
  status the handler returns when that is not 2xx;
- invokes ``$default`` for every client message (one at a time per connection) and
  ``$disconnect`` once the socket is closed, whoever closed it;
- serves the management API the handlers push with (``apigatewaymanagementapi``):
  ``POST``/``GET``/``DELETE /@connections/{id}``, with or without the stage prefix, on the
  same port as the sockets; a connection that is not open answers ``410 GoneException``;
- enforces the 128 KB message limit both ways (``413 PayloadTooLargeException`` for a post,
  close code 1009 for a client message) and the 32 KB limit on a client's frame (close code
  1009, "Message too big": a larger message must come in fragments), the 10-minute idle timeout and the 2-hour limit on
  a connection (close code 1001, "Going away").

Sockets and management requests share one port: a small front reads each request's head
and either answers the management call or hands the bytes to a ``websockets`` server on a
private loopback port. No business logic lives here.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .lambda_context import LambdaContext

log = logging.getLogger("haul.local.ws")

MAX_MESSAGE_BYTES = 128 * 1024  # API Gateway's limit on a WebSocket message...
MAX_FRAME_BYTES = 32 * 1024  # ...and on one frame of it: a larger frame closes the connection (1009)
IDLE_TIMEOUT = 600.0  # API Gateway closes a connection idle for 10 minutes...
MAX_DURATION = 7200.0  # ...and any connection after 2 hours
_MANAGEMENT = re.compile(r"^(?:/[^/@]+)?/@connections/(?P<id>[^/]+)/?$")
_SOURCE_IP = "X-Haul-Source-Ip"
Handler = Callable[[dict[str, Any], Any], Any]


def new_connection_id() -> str:
    """An id shaped like API Gateway's (``L0SM9cOFvHcCIhw=``), safe in a URL path."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Live:
    """An open connection, as the gateway knows it."""

    id: str
    ws: ServerConnection
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active: float = field(default_factory=time.monotonic)
    opened: float = field(default_factory=time.monotonic)

    def touch(self) -> None:
        self.last_active = time.monotonic()


def websocket_handlers(app_module: Any) -> dict[str, Handler]:
    """route key ($connect, $default, $disconnect) -> the handler Lambda would invoke."""
    out: dict[str, Handler] = {}
    for route, config in app_module.app.websocket_handlers.items():
        out[route] = getattr(app_module, config.handler_string.rsplit(".", 1)[-1])
    return out


class WsGateway:
    def __init__(
        self,
        handlers: dict[str, Handler],
        host: str = "127.0.0.1",
        port: int = 8001,
        stage: str = "local",
        api_id: str = "local",
        idle_timeout: float = IDLE_TIMEOUT,
        max_duration: float = MAX_DURATION,
        max_message: int = MAX_MESSAGE_BYTES,
        concurrency: int = 16,
    ) -> None:
        self.handlers = handlers
        self.host = host
        self.port = port
        self.stage = stage
        self.api_id = api_id
        self.idle_timeout = idle_timeout
        self.max_duration = max_duration
        self.max_message = max_message
        self._pool = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="ws-lambda")
        self._live: dict[str, Live] = {}
        self._pending: dict[int, tuple[str, str, str]] = {}  # id(ServerConnection) -> (id, ip, agent)
        self._front_conns: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = concurrent.futures.Future[None]()
        self.posts = 0
        self.gone_answers = 0

    # -- lifecycle ------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/{self.stage}"

    @property
    def management_url(self) -> str:
        """The endpoint to give ``apigatewaymanagementapi`` (as https://{api}.execute-api.../{stage})."""
        return f"http://{self.host}:{self.port}/{self.stage}"

    @property
    def connections(self) -> list[str]:
        return list(self._live)

    def start(self, timeout: float = 10.0) -> WsGateway:
        self._thread = threading.Thread(target=self._run, name="ws-gateway", daemon=True)
        self._thread.start()
        self._started.result(timeout)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except Exception as exc:
            if not self._started.done():
                self._started.set_exception(exc)
            else:
                log.exception("the WebSocket gateway stopped")

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        inner: Server = await serve(
            self._on_socket, "127.0.0.1", 0,
            process_request=self._on_handshake,
            process_response=self._after_handshake,
            max_size=(self.max_message, MAX_FRAME_BYTES),
            ping_interval=None,  # API Gateway answers pings, it does not send them
            compression=None,
            open_timeout=30,
        )
        self._inner_port = int(next(iter(inner.sockets)).getsockname()[1])
        front = await asyncio.start_server(self._on_front, self.host, self.port, limit=64 * 1024)
        self.port = int(front.sockets[0].getsockname()[1])
        self._started.set_result(None)
        await self._stopping.wait()
        front.close()
        # Like a redeployed API: every client is told "Going away", and $disconnect runs.
        await asyncio.gather(*(live.ws.close(1001, "Going away") for live in list(self._live.values())),
                             return_exceptions=True)
        inner.close()
        await inner.wait_closed()
        for writer in list(self._front_conns.values()):
            writer.close()
        if self._front_conns:
            await asyncio.wait(list(self._front_conns), timeout=5)
        await front.wait_closed()

    # -- Lambda invocations ---------------------------------------------------------------
    def _context(self, route: str, event_type: str, cid: str, ip: str, agent: str, connected_at: float,
                 **extra: Any) -> dict[str, Any]:
        now = time.time()
        rid = str(uuid.uuid4())
        return {
            "routeKey": route,
            "eventType": event_type,
            "extendedRequestId": rid,
            "requestTime": datetime.fromtimestamp(now, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(connected_at * 1000),
            "requestTimeEpoch": int(now * 1000),
            "identity": {"sourceIp": ip, "userAgent": agent},
            "requestId": rid,
            "domainName": f"{self.host}:{self.port}",
            "connectionId": cid,
            "apiId": self.api_id,
            **extra,
        }

    async def _invoke(self, route: str, event: dict[str, Any]) -> Any:
        handler = self.handlers.get(route)
        if handler is None:
            return None
        name = getattr(handler, "__name__", route)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, handler, event, LambdaContext(str(name)))

    async def _on_handshake(self, connection: ServerConnection, request: Request) -> Response | None:
        if "websocket" not in request.headers.get("Upgrade", "").lower():
            # Not a WebSocket handshake (a browser or curl on the URL): no $connect for it.
            return connection.respond(426, "Upgrade Required\n")
        cid = new_connection_id()
        ip = request.headers.get(_SOURCE_IP, "127.0.0.1")
        agent = request.headers.get("User-Agent", "")
        headers = {k: v for k, v in request.headers.raw_items() if k != _SOURCE_IP}
        multi: dict[str, list[str]] = {}
        for k, v in request.headers.raw_items():
            if k != _SOURCE_IP:
                multi.setdefault(k, []).append(v)
        query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
        event = {
            "headers": headers,
            "multiValueHeaders": multi,
            "requestContext": self._context("$connect", "CONNECT", cid, ip, agent, time.time()),
            "isBase64Encoded": False,
        }
        if query:
            event["queryStringParameters"] = {k: v[-1] for k, v in query.items()}
            event["multiValueQueryStringParameters"] = query
        try:
            result = await self._invoke("$connect", event)
        except Exception:
            log.exception("the $connect handler failed")
            return connection.respond(500, "Internal server error\n")
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            body = result.get("body") if isinstance(result, dict) else None
            return connection.respond(status, f"{body or 'Forbidden'}\n")
        self._pending[id(connection)] = (cid, ip, agent)
        return None

    async def _after_handshake(self, connection: ServerConnection, request: Request,
                               response: Response) -> Response | None:
        pending = self._pending.get(id(connection))
        if pending is not None and response.status_code != 101:
            # $connect accepted it but the handshake failed after all: undo the connect.
            self._pending.pop(id(connection), None)
            cid, ip, agent = pending
            event = {"requestContext": self._context("$disconnect", "DISCONNECT", cid, ip, agent, time.time(),
                                                     disconnectStatusCode=1006, disconnectReason="handshake failed"),
                     "isBase64Encoded": False}
            try:
                await self._invoke("$disconnect", event)
            except Exception:
                log.exception("the $disconnect handler failed for connection %s", cid)
        return None

    async def _on_socket(self, connection: ServerConnection) -> None:
        cid, ip, agent = self._pending.pop(id(connection))
        live = Live(cid, connection, ip, agent)
        self._live[cid] = live
        watchdog = asyncio.create_task(self._watch(live))
        try:
            async for data in connection:
                live.touch()
                if isinstance(data, bytes):
                    body, encoded = base64.b64encode(data).decode(), True
                else:
                    body, encoded = data, False
                event = {
                    "requestContext": self._context(
                        "$default", "MESSAGE", cid, ip, agent, live.connected_at, messageId=uuid.uuid4().hex[:16]
                    ),
                    "body": body,
                    "isBase64Encoded": encoded,
                }
                try:
                    await self._invoke("$default", event)
                except Exception:
                    log.exception("the $default handler failed for connection %s", cid)
        except ConnectionClosed:
            pass
        finally:
            self._live.pop(cid, None)
            watchdog.cancel()
            code = connection.close_code if connection.close_code is not None else 1006
            event = {
                "headers": {"Host": f"{self.host}:{self.port}"},
                "multiValueHeaders": {"Host": [f"{self.host}:{self.port}"]},
                "requestContext": self._context(
                    "$disconnect", "DISCONNECT", cid, ip, agent, live.connected_at,
                    disconnectStatusCode=code, disconnectReason=connection.close_reason or "",
                ),
                "isBase64Encoded": False,
            }
            try:
                await self._invoke("$disconnect", event)
            except Exception:
                log.exception("the $disconnect handler failed for connection %s", cid)

    async def _watch(self, live: Live) -> None:
        """Close the connection when it has been idle, or open, for too long."""
        while True:
            now = time.monotonic()
            deadline = min(live.last_active + self.idle_timeout, live.opened + self.max_duration)
            if now >= deadline:
                await live.ws.close(1001, "Going away")
                return
            await asyncio.sleep(deadline - now)

    # -- the front: management API or socket ----------------------------------------------
    async def _on_front(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._front_conns[task] = writer
        try:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                writer.close()
                return
            path = _path_of(head)
            if path is not None and _MANAGEMENT.match(path):
                await self._management(head, reader, writer)
            else:
                await self._proxy(head, reader, writer)
        finally:
            self._front_conns.pop(task, None)

    async def _proxy(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(_SOURCE_IP.lower().encode() + b":")]
        lines.insert(1, f"{_SOURCE_IP}: {peer[0]}".encode())
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._inner_port)
        except OSError:
            writer.close()
            return
        up_writer.write(b"\r\n".join(lines))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    async def _management(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer management calls on this (keep-alive) connection until the client closes it."""
        try:
            while True:
                request_line, headers = _parse_head(head)
                method, target = request_line[0], request_line[1]
                length = int(headers.get("content-length", "0") or 0)
                body = await reader.readexactly(length) if length else b""
                match = _MANAGEMENT.match(urlsplit(target).path)
                status: int
                payload: Any
                kind: str | None
                if match is None:
                    status, payload, kind = 403, {"message": "Forbidden"}, "ForbiddenException"
                else:
                    status, payload, kind = await self._manage(method, unquote(match.group("id")), body)
                _respond(writer, status, payload, kind)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
                head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()

    async def _manage(self, method: str, cid: str, body: bytes) -> tuple[int, Any, str | None]:
        live = self._live.get(cid)
        if live is None or live.ws.close_code is not None:
            self.gone_answers += 1
            return 410, {"message": None}, "GoneException"
        if method == "POST":
            if len(body) > self.max_message:
                return 413, {"message": "Message too long"}, "PayloadTooLargeException"
            try:
                text = body.decode()
            except UnicodeDecodeError:
                text = None
            try:
                await live.ws.send(text if text is not None else body)
            except ConnectionClosed:
                self.gone_answers += 1
                return 410, {"message": None}, "GoneException"
            live.touch()
            self.posts += 1
            return 200, None, None
        if method == "GET":
            return 200, {
                "connectedAt": _iso(live.connected_at),
                "identity": {"sourceIp": live.source_ip, "userAgent": live.user_agent},
                "lastActiveAt": _iso(time.time() - (time.monotonic() - live.last_active)),
            }, None
        if method == "DELETE":
            await live.ws.close(1000, "")
            return 204, None, None
        return 403, {"message": "Forbidden"}, "ForbiddenException"


def _path_of(head: bytes) -> str | None:
    try:
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        return unquote(urlsplit(line.split(" ")[1]).path)
    except (IndexError, ValueError):
        return None


def _parse_head(head: bytes) -> tuple[list[str], dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    request_line = lines[0].split(" ")
    if len(request_line) != 3:
        raise ValueError("bad request line")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise ValueError("chunked bodies are not supported")
    return request_line, headers


def _respond(writer: asyncio.StreamWriter, status: int, payload: Any, kind: str | None) -> None:
    body = b"" if payload is None or status == 204 else json.dumps(payload).encode()
    reason = {200: "OK", 204: "No Content", 403: "Forbidden", 410: "Gone", 413: "Payload Too Large"}.get(status, "")
    head = [f"HTTP/1.1 {status} {reason}", "Content-Type: application/json",
            f"Content-Length: {len(body)}", f"x-amzn-RequestId: {uuid.uuid4()}"]
    if kind:
        head.append(f"x-amzn-ErrorType: {kind}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(65536):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        dst.close()
