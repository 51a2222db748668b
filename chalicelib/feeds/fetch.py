"""Fetching a feed politely: conditional GET, a timeout, a size cap, redirects checked hop by hop.

Every hop goes through the URL guard (chalicelib/adapters/urlguard.py), and the session pins each
connection to the address that was checked (chalicelib/adapters/safehttp.py): a feed cannot make Haul
fetch a metadata address or a private host on a deployed stage, not even by a redirect.
Custom headers (a private feed's cookie or token) are not sent on to another origin. The body
may be compressed (gzip, deflate); the cap counts the bytes after decompression, so a
compression bomb stops at the cap too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from ..adapters.safehttp import NETWORK_ERRORS, BodyTooLarge, BodyTooSlow, read_body
from ..adapters.urlguard import BlockedUrl, UrlGuard

MAX_BODY = 8 * 1024 * 1024
ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
_ERRORS = NETWORK_ERRORS


class FetchError(Exception):
    """The feed could not be fetched; ``refused`` when trying again cannot help (the URL guard)."""

    def __init__(self, message: str, refused: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.refused = refused
        self.status = status


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 (not modified: no body)
    body: bytes
    etag: str | None
    last_modified: str | None
    content_type: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FeedFetcher:
    def __init__(
        self, session: requests.Session, guard: UrlGuard, timeout: tuple[float, float] = (5.0, 15.0),
        total_seconds: float = 20.0, max_bytes: int = MAX_BODY, max_redirects: int = 5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.guard = guard
        self.timeout = timeout
        self.total_seconds = total_seconds
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self._monotonic = monotonic

    def check(self, url: str) -> None:
        """Raise FetchError(refused) unless Haul may fetch ``url``."""
        try:
            self.guard.check(url)
        except BlockedUrl as exc:
            raise FetchError(str(exc), refused=True) from None

    def fetch(self, url: str, headers: Mapping[str, str] | None = None, etag: str | None = None,
              last_modified: str | None = None) -> Fetched:
        """GET the feed; with validators, a conditional GET that may answer 304."""
        origin = urlsplit(url)[:2]
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        own = dict(headers or {})
        started = self._monotonic()
        for _ in range(self.max_redirects + 1):
            self.check(url)
            sent = {"Accept": ACCEPT, "Accept-Encoding": "gzip, deflate", **own, **conditional}
            try:
                resp = self.session.get(url, headers=sent, stream=True, allow_redirects=False, timeout=self.timeout)
            except _ERRORS as exc:
                raise FetchError(f"cannot reach the feed: {_brief(exc)}") from None
            try:
                if resp.is_redirect and "location" in resp.headers:
                    url = urljoin(url, resp.headers["location"])
                    if urlsplit(url)[:2] != origin:
                        own = {}
                    continue
                if resp.status_code == 304:
                    return Fetched(url, 304, b"", resp.headers.get("etag") or etag,
                                   resp.headers.get("last-modified") or last_modified, None)
                if resp.status_code != 200:
                    raise FetchError(f"the feed answered HTTP {resp.status_code} {resp.reason or ''}".strip(),
                                     status=resp.status_code)
                body = self._read(resp, started)
                return Fetched(url, 200, body, resp.headers.get("etag"), resp.headers.get("last-modified"),
                               resp.headers.get("content-type"))
            finally:
                resp.close()
        raise FetchError(f"more than {self.max_redirects} redirects")

    def _read(self, resp: requests.Response, started: float) -> bytes:
        try:
            return read_body(resp, self.max_bytes, lambda: self._monotonic() - started > self.total_seconds)
        except BodyTooLarge as exc:
            declared = f" ({exc.declared})" if exc.declared else ""
            raise FetchError(f"the feed is larger than {self.max_bytes} bytes{declared}") from None
        except BodyTooSlow:
            raise FetchError(f"the feed took longer than {self.total_seconds:g} s to read") from None
        except _ERRORS as exc:
            raise FetchError(f"the feed's body broke off: {_brief(exc)}") from None


def _brief(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 300 else text[:300] + "..."
