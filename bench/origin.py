"""A fast HTTP origin for the benchmark: files on disk, served with ``os.sendfile``.

It speaks just enough HTTP/1.1 for every client in the benchmark: keep-alive, HEAD,
``Range: bytes=a-b`` (one range), ``If-Range`` against a strong ETag, and an optional
per-connection throttle (bytes per second), paced like ``tests/support/origin.py``.

Run it as its own process so its CPU time is counted apart from the bench's:

    python -m bench.origin --serve /1g=/tmp/x/1g --serve /slow=/tmp/x/512m@20971520

It prints ``PORT <n>`` once it listens, then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# BENCH_ORIGIN_TRACE=<file>: one line per body sent (start, end, client port, offset, length,
# path), to see how the client's connections were used over time.
_TRACE = os.environ.get("BENCH_ORIGIN_TRACE")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
BLOCK = 1024 * 1024  # bytes per sendfile call (and per pacing step when throttled)
THROTTLE_BLOCK = 256 * 1024


@dataclass(frozen=True)
class Served:
    path_on_disk: str
    size: int
    etag: str
    last_modified: str
    throttle_bps: int | None = None


def served(path_on_disk: str, throttle_bps: int | None = None) -> Served:
    st = os.stat(path_on_disk)
    etag = f'"{st.st_ino:x}-{st.st_size:x}-{int(st.st_mtime):x}"'
    return Served(path_on_disk, st.st_size, etag, formatdate(st.st_mtime, usegmt=True), throttle_bps)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(head=True)

    def do_GET(self) -> None:
        self._serve(head=False)

    def _plain(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self, head: bool) -> None:
        res = self.server.files.get(self.path.split("?")[0])
        if res is None:
            self._plain(404)
            return
        start, end, status = 0, res.size - 1, 200
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted and (if_range is None or if_range in (res.etag, res.last_modified)):
            match = _RANGE.match(wanted.strip())
            if match and (match.group(1) or match.group(2)):
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), res.size - 1) if match.group(2) else res.size - 1
                else:
                    start, end = max(0, res.size - int(match.group(2))), res.size - 1
                if start >= res.size or end < start:
                    self._plain(416, {"Content-Range": f"bytes */{res.size}"})
                    return
                status = 206
        length = end - start + 1 if res.size else 0
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", res.etag)
        self.send_header("Last-Modified", res.last_modified)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{res.size}")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if head or not length:
            return
        began = time.time()
        try:
            self._send(res, start, length)
        except OSError:  # the client went away
            self.close_connection = True
        if _TRACE:
            with open(_TRACE, "a") as trace:
                trace.write(f"{began:.3f} {time.time():.3f} {self.client_address[1]} {start} {length} {self.path}\n")

    def _send(self, res: Served, start: int, length: int) -> None:
        out = self.connection.fileno()
        block = THROTTLE_BLOCK if res.throttle_bps else BLOCK
        began = time.monotonic()
        sent = 0
        with open(res.path_on_disk, "rb") as fh:
            while sent < length:
                n = os.sendfile(out, fh.fileno(), start + sent, min(block, length - sent))
                if n == 0:
                    raise BrokenPipeError("sendfile sent nothing")
                sent += n
                if res.throttle_bps:
                    ahead = sent / res.throttle_bps - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    files: dict[str, Served]


class FastOrigin:
    """The same server in a thread of this process (for tests and comparisons)."""

    def __init__(self, files: dict[str, Served], host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server((host, port), _Handler)
        self._server.files = dict(files)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FastOrigin:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def serve_forever(self) -> None:
        self._server.serve_forever()


def _parse_serve(text: str) -> tuple[str, Served]:
    url_path, _, rest = text.partition("=")
    disk, _, throttle = rest.partition("@")
    if not url_path.startswith("/") or not disk:
        raise argparse.ArgumentTypeError(f"expected /url/path=/file/on/disk[@bytes_per_second], got {text!r}")
    return url_path, served(disk, int(throttle) if throttle else None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.origin", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--serve", type=_parse_serve, action="append", default=[], metavar="PATH=FILE[@BPS]")
    args = parser.parse_args(argv)
    server = _Server((args.host, args.port), _Handler)
    server.files = dict(args.serve)

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
