"""A fault-injecting HTTP proxy on loopback in front of the AWS emulator's S3.

Point an S3 client's ``endpoint_url`` at :attr:`S3FaultProxy.url`; every request is passed
through unchanged, except that ``UploadPart`` requests for the part numbers listed in
``throttle`` are answered with S3's own ``503 SlowDown`` error, that many times per part.
``throttle_complete`` does the same to that many CompleteMultipartUpload requests. Every
UploadPart the proxy sees is recorded as ``(part number, status)``, every
CompleteMultipartUpload as its status.
"""

from __future__ import annotations

import http.client
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SLOW_DOWN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>"
    "<RequestId>{rid}</RequestId><HostId>haul-test-proxy</HostId></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te", "upgrade"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._forward()

    def do_HEAD(self) -> None:
        self._forward()

    def do_PUT(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def do_DELETE(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
        throttled = False
        if self.command == "PUT" and "partNumber" in query and "uploadId" in query:
            number = int(query["partNumber"][0])
            with self.server.lock:
                throttled = self.server.throttle.get(number, 0) > 0
                if throttled:
                    self.server.throttle[number] -= 1
                self.server.upload_parts.append((number, 503 if throttled else 200))
        elif self.command == "POST" and "uploadId" in query:
            with self.server.lock:
                throttled = self.server.throttle_complete > 0
                if throttled:
                    self.server.throttle_complete -= 1
                self.server.completes.append(503 if throttled else 200)
        if throttled:
            payload = SLOW_DOWN.format(rid=uuid.uuid4().hex).encode()
            self.send_response(503, "Slow Down")
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        upstream = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            resp = upstream.getresponse()
            data = resp.read()
            self.send_response(resp.status, resp.reason)
            for name, value in resp.getheaders():
                if name.lower() in _HOP_BY_HOP or (name.lower() == "content-length" and self.command != "HEAD"):
                    continue
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            upstream.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    upstream_host: str
    upstream_port: int
    throttle: dict[int, int]
    throttle_complete: int
    upload_parts: list[tuple[int, int]]
    completes: list[int]
    lock: threading.Lock


class S3FaultProxy:
    """``with S3FaultProxy(emulator_url, throttle={2: 3}) as proxy: ... proxy.url``"""

    def __init__(self, upstream: str, throttle: dict[int, int] | None = None, throttle_complete: int = 0) -> None:
        parts = urlsplit(upstream)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.upstream_host = parts.hostname or "127.0.0.1"
        self._server.upstream_port = int(parts.port or 80)
        self._server.throttle = dict(throttle or {})
        self._server.throttle_complete = throttle_complete
        self._server.upload_parts = []
        self._server.completes = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> S3FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def upload_parts(self) -> list[tuple[int, int]]:
        """``(part number, status)`` of every UploadPart the proxy saw, in order."""
        with self._server.lock:
            return list(self._server.upload_parts)

    @property
    def completes(self) -> list[int]:
        """The status of every CompleteMultipartUpload the proxy saw, in order."""
        with self._server.lock:
            return list(self._server.completes)
