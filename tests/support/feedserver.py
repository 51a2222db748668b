"""A real feed server on loopback for the feeds tests, and builders of RSS 2.0, RSS 1.0 and
Atom documents.

Each path serves a :class:`Doc` the test sets and may change between requests: its body,
validators (answering ``304`` to a matching conditional GET), gzip, a redirect, a status,
a delay. Every request's headers are recorded.
"""

from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from xml.sax.saxutils import escape


@dataclass
class Doc:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    redirect_to: str | None = None
    status: int = 200
    delay: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)


class FeedServer:
    def __init__(self) -> None:
        self.docs: dict[str, Doc] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server._lock:
                    doc = server.docs.get(self.path.split("?", 1)[0])
                if doc is None:
                    self._answer(404, b"not found", {})
                    return
                doc.requests.append({k.lower(): v for k, v in self.headers.items()})
                if doc.delay:
                    time.sleep(doc.delay)
                if doc.redirect_to:
                    self._answer(302, b"", {"Location": doc.redirect_to})
                    return
                if doc.status != 200:
                    self._answer(doc.status, b"error", {})
                    return
                if (doc.etag and self.headers.get("If-None-Match") == doc.etag) or (
                        doc.last_modified and not doc.etag
                        and self.headers.get("If-Modified-Since") == doc.last_modified):
                    self._answer(304, b"", {"ETag": doc.etag or "", "Last-Modified": doc.last_modified or ""})
                    return
                headers = {"Content-Type": doc.content_type}
                if doc.etag:
                    headers["ETag"] = doc.etag
                if doc.last_modified:
                    headers["Last-Modified"] = doc.last_modified
                body = doc.body
                if doc.gzip and "gzip" in (self.headers.get("Accept-Encoding") or ""):
                    body = gzip.compress(body)
                    headers["Content-Encoding"] = "gzip"
                self._answer(200, body, headers)

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if v:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if body:
                    self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def add(self, path: str, doc: Doc) -> str:
        with self._lock:
            self.docs[path] = doc
        return self.url(path)


# -- documents ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    title: str
    link: str
    guid: str | None = None
    enclosure: str | None = None
    length: int | None = None


def rss2(title: str, entries: list[Entry]) -> bytes:
    items = []
    for e in entries:
        enclosure = (
            f'<enclosure url="{escape(e.enclosure)}" length="{e.length or 0}" type="application/octet-stream"/>'
            if e.enclosure
            else ""
        )
        guid = f"<guid isPermaLink=\"false\">{escape(e.guid)}</guid>" if e.guid else ""
        items.append(f"<item><title>{escape(e.title)}</title><link>{escape(e.link)}</link>{guid}{enclosure}"
                     "<pubDate>Mon, 01 Dec 2025 10:00:00 GMT</pubDate></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{escape(title)}</title>'
            f"<link>http://example.invalid/</link><description>test</description>{''.join(items)}"
            "</channel></rss>").encode()


def atom(title: str, entries: list[Entry]) -> bytes:
    items = "".join(
        f"<entry><title>{escape(e.title)}</title><id>{escape(e.guid or e.link)}</id>"
        f'<link rel="alternate" href="{escape(e.link)}"/><updated>2025-12-01T10:00:00Z</updated></entry>'
        for e in entries)
    return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
            f"<title>{escape(title)}</title><id>urn:test</id><updated>2025-12-01T10:00:00Z</updated>"
            f"{items}</feed>").encode()


def rss1(title: str, entries: list[Entry]) -> bytes:
    seq = "".join(f'<rdf:li rdf:resource="{escape(e.link)}"/>' for e in entries)
    items = "".join(f'<item rdf:about="{escape(e.link)}"><title>{escape(e.title)}</title>'
                    f"<link>{escape(e.link)}</link></item>" for e in entries)
    return ('<?xml version="1.0" encoding="utf-8"?>'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">'
            f'<channel rdf:about="urn:test"><title>{escape(title)}</title><link>http://example.invalid/</link>'
            f"<description>test</description><items><rdf:Seq>{seq}</rdf:Seq></items></channel>{items}"
            "</rdf:RDF>").encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>&lol9;</title>
<item><title>bomb &lol9;</title><link>http://127.0.0.1:9/bomb</link></item></channel></rss>"""


def external_entity(target: str) -> bytes:
    return (f'<?xml version="1.0"?>\n<!DOCTYPE rss [ <!ENTITY xxe SYSTEM "{target}"> ]>\n'
            '<rss version="2.0"><channel><title>t &xxe;</title><item><title>x &xxe;</title>'
            "<link>http://127.0.0.1:9/x</link></item></channel></rss>").encode()
