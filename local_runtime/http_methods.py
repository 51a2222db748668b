"""The local REST server's answer to a method no route can have (TRACE, CONNECT, PROPFIND...).

Python's http.server answers a method its handler has no ``do_<METHOD>`` for with its own
``501`` HTML page. API Gateway never answers 501; the API's answer is the JSON error envelope
with ``405 Method Not Allowed`` and an ``Allow`` header naming the methods the API uses.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

ALLOWED = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def method_not_allowed_body(method: str, request_id: str) -> bytes:
    return json.dumps({"error": {
        "code": "METHOD_NOT_ALLOWED",
        "message": f"the method {method[:32]!r} is not supported; use one of {', '.join(ALLOWED)}",
        "details": [],
        "request_id": request_id,
    }}).encode()


class AnswersEveryMethod:
    """Mixed into an ``http.server.BaseHTTPRequestHandler``: any method without a ``do_``
    handler answers 405 in the envelope (the connection then closes: its body is not read)."""

    command: str
    close_connection: bool

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):
            return self._method_not_allowed
        raise AttributeError(name)

    def _method_not_allowed(self) -> None:
        handler: Any = self
        rid = str(uuid.uuid4())
        body = method_not_allowed_body(self.command, rid)
        handler.send_response(405)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Allow", ", ".join(ALLOWED))
        handler.send_header("X-Request-Id", rid)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)
        self.close_connection = True
