"""The emulator's HTTP server keeps its connections open (emulator performance).

werkzeug's development server (moto's) answers every request with ``Connection: close``: its
handler could not tell how much of a request body the application left unread, so it drains
the socket after each answer and closes it. Every AWS request of every client therefore
opened a TCP connection, and moto's threaded server started a thread for each: a profile of
the local runtime during single adds had the server's accept loop and thread starts at ~20 %
of the emulator's GIL time, and each request's connect, ``getaddrinfo``, close and thread
start are as many waits for the GIL in a process that also serves the REST API.

Here a request whose body has a ``Content-Length`` (every botocore request) is read whole
before the application runs, which then reads it from memory: the socket stands at the next
request whatever the application read. The answer leaves out werkzeug's ``Connection: close``
and its drain (which would now swallow the next request). A chunked body, an HTTP/1.0 client,
a client that asks to close, or a body cut short keeps werkzeug's way (close).
"""

from __future__ import annotations

import functools
import io
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any, cast

_request = threading.local()  # one handler thread per connection, one request at a time


def _keeping() -> bool:
    return bool(getattr(_request, "keep", False))


def _setup(original: Callable[[Any], None]) -> Callable[[Any], None]:
    """Nagle's algorithm off: werkzeug writes an answer's headers and its body in two sends, and
    on a connection that stays open the body would wait for the client's delayed ACK of the
    headers (~40 ms a request; a closing connection flushed it)."""

    @functools.wraps(original)
    def setup(self: Any) -> None:
        self.disable_nagle_algorithm = True
        original(self)

    return setup


def _parse_request(original: Callable[[Any], bool]) -> Callable[[Any], bool]:
    @functools.wraps(original)
    def parse_request(self: Any) -> bool:
        _request.keep = False  # decided anew for each request (a bad one is answered and closed)
        return original(self)

    return parse_request


def _make_environ(original: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    @functools.wraps(original)
    def make_environ(self: Any) -> dict[str, Any]:
        environ = original(self)
        if self.request_version != "HTTP/1.1" or self.close_connection or environ.get("wsgi.input_terminated"):
            return environ
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return environ
        if length < 0:
            return environ
        body = self.rfile.read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        _request.keep = len(body) == length  # short: the client went away mid-body
        return environ

    return make_environ


def _send_header(original: Callable[[Any, str, str], None]) -> Callable[[Any, str, str], None]:
    @functools.wraps(original)
    def send_header(self: Any, keyword: str, value: str) -> None:
        if keyword.lower() == "connection" and value.lower() == "close" and _keeping():
            return
        original(self, keyword, value)

    return send_header


class _NoDrain:
    """The selector werkzeug drains the socket with after an answer, for a kept connection:
    nothing is left of this request to drain, and what comes next is the next request."""

    def register(self, *args: Any, **kwargs: Any) -> None:
        pass

    def select(self, timeout: float | None = None) -> list[Any]:
        return []

    def close(self) -> None:
        pass


def _selectors(original: ModuleType) -> Any:
    """werkzeug.serving's ``selectors``, whose DefaultSelector does not drain a kept connection."""

    class Selectors:
        EVENT_READ = original.EVENT_READ
        __wrapped__ = original

        @staticmethod
        def DefaultSelector() -> Any:  # noqa: N802 - the name werkzeug calls
            return _NoDrain() if _keeping() else original.DefaultSelector()

    return Selectors


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch()."""
    from werkzeug import serving

    handler = serving.WSGIRequestHandler
    return [
        (handler, "setup", _setup),
        (handler, "parse_request", _parse_request),
        (handler, "make_environ", _make_environ),
        (handler, "send_header", _send_header),
        (cast(type, serving), "selectors", _selectors),
    ]
