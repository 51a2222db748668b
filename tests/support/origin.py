"""A real HTTP origin on loopback for tests and the benchmark, with faults on demand.

Each path serves a :class:`Resource` whose behaviour the test sets: byte ranges or not,
validators, connection cuts mid-body, 5xx/429 answers with Retry-After, content that
changes mid-download, per-connection throttling, a body held until the test lets it go. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
HOLD_LIMIT_S = 120.0  # a held body goes on by itself after this (a test that forgot to let it go)


@dataclass
class Resource:
    data: bytes | None = None
    path_on_disk: str | None = None  # large files are served from disk
    ranges: bool = True
    etag: str | None = '"v1"'
    last_modified: float | None = 1_700_000_000.0
    content_type: str = "application/octet-stream"
    content_disposition: str | None = None
    send_length: bool = True
    # Faults: each counts down per request that it affects.
    cut_after: int | None = None  # close the connection after this many body bytes...
    cuts: int = 0  # ...this many times
    fail_status: int | None = None  # answer this status...
    failures: int = 0  # ...this many times...
    fail_after: int = 0  # ...once this many requests have been answered normally
    retry_after: str | None = None
    change_after_requests: int | None = None  # after N ranged requests, swap in `changed`
    changed: bytes | None = None
    throttle_bps: int | None = None  # per connection
    # Every body longer than one block stops after its first block until this is set: a download
    # that cannot finish before the test lets it, however slow or fast the machine is.
    hold: threading.Event | None = None
    hold_from: int = 0  # ...for ranges that start at or after this offset (earlier parts go through)
    # The body never ends: after ``data`` it starts over, until the client hangs up (use with
    # send_length=False and ranges=False).
    endless: bool = False
    redirect_to: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def size(self) -> int:
        if self.data is not None:
            return len(self.data)
        assert self.path_on_disk
        return os.path.getsize(self.path_on_disk)

    def read(self, start: int, length: int) -> bytes:
        if self.data is not None:
            return self.data[start : start + length]
        assert self.path_on_disk
        with open(self.path_on_disk, "rb") as fh:
            fh.seek(start)
            return fh.read(length)

    def sha256(self) -> str:
        if self.data is not None:
            return hashlib.sha256(self.data).hexdigest()
        digest = hashlib.sha256()
        assert self.path_on_disk
        with open(self.path_on_disk, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def ranged_requests(self) -> list[tuple[int, int]]:
        return [r["range"] for r in self.requests if r.get("range") and r["status"] == 206]

    def body_bytes(self) -> int:
        """Body bytes the origin has written so far, over every request."""
        return sum(int(r.get("sent", 0)) for r in self.requests)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        res = self.server.resources.get(self.path.split("?")[0])
        if res is None:
            self._simple(404, b"not found")
            return
        record: dict[str, Any] = {"path": self.path, "headers": dict(self.headers), "time": time.time()}
        with res._lock:
            fail = res.fail_status is not None and res.failures > 0 and len(res.requests) >= res.fail_after
            res.requests.append(record)
            if fail:
                res.failures -= 1
        if res.redirect_to:
            record["status"] = 302
            self.send_response(302)
            self.send_header("Location", res.redirect_to)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if fail:
            record["status"] = res.fail_status
            extra = {"Retry-After": res.retry_after} if res.retry_after else {}
            self._simple(res.fail_status or 503, b"try later", extra)
            return

        size = res.size()
        start, end, status = 0, size - 1, 200
        wanted = self.headers.get("Range")
        if res.ranges and wanted:
            size = self._maybe_change(res, size)
            start, end = 0, size - 1
            if self.headers.get("If-Range") in (None, res.etag, self._last_modified(res)):
                span = _span(wanted, size)
                if isinstance(span, str):  # unsatisfiable
                    record["status"] = 416
                    self._simple(416, b"", {"Content-Range": f"bytes */{size}"})
                    return
                if span is not None:
                    start, end, status = span[0], span[1], 206
                    record["range"] = (start, end)
        record["status"] = status
        length = end - start + 1 if size else 0
        self._headers(res, status, f"bytes {start}-{end}/{size}", length)
        if head:
            return
        self._body(res, start, length, record)

    @staticmethod
    def _maybe_change(res: Resource, size: int) -> int:
        """A resource set to change after some ranged requests changes now; its size then."""
        with res._lock:
            ranged = sum(1 for r in res.requests if r.get("range"))
            if (
                res.change_after_requests is not None
                and ranged >= res.change_after_requests
                and res.changed is not None
            ):
                res.data, res.changed = res.changed, None
                res.etag = '"v2"'
                res.last_modified = (res.last_modified or 0) + 60
                return res.size()
        return size

    def _headers(self, res: Resource, status: int, content_range: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", res.content_type)
        if res.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if res.etag:
            self.send_header("ETag", res.etag)
        if res.last_modified is not None:
            self.send_header("Last-Modified", self._last_modified(res))
        if res.content_disposition:
            self.send_header("Content-Disposition", res.content_disposition)
        if status == 206:
            self.send_header("Content-Range", content_range)
        if res.send_length:
            self.send_header("Content-Length", str(length))
        else:
            self.send_header("Connection", "close")
        self.end_headers()

    @staticmethod
    def _last_modified(res: Resource) -> str:
        return formatdate(res.last_modified or 0, usegmt=True)

    def _body(self, res: Resource, start: int, length: int, record: dict[str, Any]) -> None:
        record["sent"] = 0
        try:
            self._write_body(res, start, length, record)
        finally:
            record["end"] = time.time()

    def _write_body(self, res: Resource, start: int, length: int, record: dict[str, Any]) -> None:
        cut_at = None
        with res._lock:
            if res.cut_after is not None and res.cuts > 0 and length > res.cut_after:
                res.cuts -= 1
                cut_at = res.cut_after
                record["cut_at"] = cut_at
        sent = 0
        block = 256 * 1024
        began = time.monotonic()
        try:
            while sent < length or res.endless:
                n = min(block, length - sent) if not res.endless else block
                if cut_at is not None and sent + n > cut_at:
                    n = cut_at - sent
                    if n > 0:
                        self.wfile.write(res.read(start + sent, n))
                        record["sent"] = sent + n
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.wfile.write(res.read(start + sent, n) if not res.endless else _cycle(res, sent, n))
                sent += n
                record["sent"] = sent
                if res.hold is not None and sent < length and start >= res.hold_from:
                    res.hold.wait(HOLD_LIMIT_S)
                if res.throttle_bps:
                    ahead = sent / res.throttle_bps - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if not res.send_length:
            self.close_connection = True

    def _simple(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _cycle(res: Resource, offset: int, n: int) -> bytes:
    """``n`` bytes of ``res``'s data repeated without end, from ``offset``."""
    size = res.size()
    out = bytearray()
    while len(out) < n:
        at = (offset + len(out)) % size
        out += res.read(at, min(n - len(out), size - at))
    return bytes(out)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    resources: dict[str, Resource]


class Origin:
    """``with Origin() as origin: origin.add('/f', Resource(data=...)); origin.url('/f')``"""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.resources = {}
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> Origin:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def add(self, path: str, resource: Resource) -> Resource:
        self._server.resources[path] = resource
        return resource

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def _span(wanted: str, size: int) -> tuple[int, int] | str | None:
    """The bytes a Range header asks for: (first, last), "unsatisfiable", or None when the header
    is not one this origin reads (then the whole file is sent)."""
    match = _RANGE.match(wanted.strip())
    if not match:
        return None
    first = int(match.group(1)) if match.group(1) else None
    last = int(match.group(2)) if match.group(2) else None
    if first is None and last is not None:
        first, last = max(0, size - last), size - 1
    elif first is not None:
        last = size - 1 if last is None else min(last, size - 1)
    if first is None or first >= size:
        return "unsatisfiable"
    return first, last if last is not None else size - 1
