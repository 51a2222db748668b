"""HTTP(S) origins: probing a URL and reading byte ranges of it into a part buffer."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from ..domain import filenames
from ..domain.backoff import parse_retry_after
from ..domain.pacing import Pacer
from ..domain.urls import redact
from .urlguard import UrlGuard

CHUNK = 1024 * 1024
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}
_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.I)
_EMPTY_RANGE = re.compile(r"bytes\s+\*/(\d+)", re.I)
_READ_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class OriginError(Exception):
    """The origin could not serve the request. ``retryable`` says whether trying again may help."""

    def __init__(
        self, message: str, retryable: bool, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


class SourceChanged(Exception):
    """The file at the origin is no longer the one the plan was made for."""


@dataclass(frozen=True)
class Probe:
    url: str
    size: int | None
    ranges: bool
    validator: str | None
    etag: str | None
    filename: str
    content_type: str | None


def _strong_etag(etag: str | None) -> str | None:
    return etag if etag and not etag.startswith("W/") else None


class OriginClient:
    def __init__(
        self,
        session: requests.Session,
        guard: UrlGuard,
        timeout: tuple[float, float] = (10.0, 60.0),
        max_redirects: int = 10,
        quick_retries: int = 3,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._session = session
        self._guard = guard
        self._timeout = timeout
        self._max_redirects = max_redirects
        self._quick_retries = quick_retries
        self._clock = clock
        # Speed limits: the pacer says how long to wait, these measure and wait.
        self._monotonic = monotonic
        self._sleep = sleep

    # -- requests -------------------------------------------------------------------------
    def _get(self, url: str, headers: Mapping[str, str], extra: Mapping[str, str]) -> requests.Response:
        """GET following redirects by hand: each hop is checked, and custom headers never
        follow a redirect to another origin."""
        origin = urlsplit(url)[:2]
        sent = {**headers, **extra, "Accept-Encoding": "identity"}
        for _ in range(self._max_redirects + 1):
            self._guard.check(url)
            try:
                resp = self._session.get(
                    url, headers=sent, stream=True, allow_redirects=False, timeout=self._timeout
                )
            except _READ_ERRORS as exc:
                raise OriginError(f"cannot reach the origin: {_brief(exc)}", retryable=True) from None
            if resp.is_redirect and "location" in resp.headers:
                resp.close()
                url = urljoin(url, resp.headers["location"])
                if urlsplit(url)[:2] != origin:
                    sent = {**extra, "Accept-Encoding": "identity"}
                continue
            resp.url = url
            return resp
        raise OriginError(f"more than {self._max_redirects} redirects", retryable=False)

    def _fail(self, resp: requests.Response) -> OriginError:
        retry_after = parse_retry_after(resp.headers.get("retry-after"), self._clock())
        status = resp.status_code
        resp.close()
        return OriginError(
            f"the origin answered HTTP {status} {resp.reason or ''}".strip(),
            retryable=status in RETRYABLE_STATUS,
            status=status,
            retry_after=retry_after,
        )

    # -- probe ----------------------------------------------------------------------------
    def probe(self, url: str, headers: Mapping[str, str]) -> Probe:
        resp = self._get(url, headers, {"Range": "bytes=0-0"})
        try:
            etag = resp.headers.get("etag")
            validator = _strong_etag(etag) or resp.headers.get("last-modified")
            name = filenames.choose(resp.headers.get("content-disposition"), resp.url)
            ctype = resp.headers.get("content-type")
            if resp.status_code == 206:
                match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
                if match and match.group(3) != "*":
                    return Probe(resp.url, int(match.group(3)), True, validator, etag, name, ctype)
                # A range answer without a total length: treat as a plain stream.
                return Probe(resp.url, None, False, validator, etag, name, ctype)
            if resp.status_code == 416:
                empty = _EMPTY_RANGE.match(resp.headers.get("content-range", ""))
                if empty and int(empty.group(1)) == 0:
                    return Probe(resp.url, 0, True, validator, etag, name, ctype)
                raise OriginError("the origin refused every byte range", retryable=False, status=416)
            if resp.status_code == 200:
                length = resp.headers.get("content-length")
                size = int(length) if length and length.isdigit() else None
                return Probe(resp.url, size, False, validator, etag, name, ctype)
            raise self._fail(resp)
        finally:
            resp.close()

    # -- ranged reads ---------------------------------------------------------------------
    def fetch_range(
        self,
        url: str,
        headers: Mapping[str, str],
        first: int,
        last: int,
        validator: str | None,
        total: int,
        into: memoryview,
        progress: Callable[[int], None] = lambda n: None,
        pacer: Pacer | None = None,
    ) -> int:
        """Read bytes ``first..last`` into ``into``; a cut connection resumes where it broke.

        ``pacer`` (a speed limit) may change its rate while this reads (the progress callback
        adopts a new limit): each read asks it how long to wait.
        Raises SourceChanged when the origin's validator or length no longer match the plan.
        """
        want = last - first + 1
        got = 0
        failures = 0
        while got < want:
            extra = {"Range": f"bytes={first + got}-{last}"}
            if validator:
                extra["If-Range"] = validator
            resp = self._get(url, headers, extra)
            try:
                if resp.status_code == 200:
                    raise SourceChanged("the origin sent the whole file for a range request: it changed")
                if resp.status_code != 206:
                    raise self._fail(resp)
                self._check_same(resp, first + got, last, validator, total)
                read, broke = self._read_into(resp, into[got:want], progress, pacer)
                # Count what arrived before a break too: the next request asks for the rest only.
                got += read
                if broke is not None:
                    failures += 1
                    if failures > self._quick_retries:
                        raise OriginError(
                            f"the connection broke {failures} times: {_brief(broke)}", retryable=True
                        ) from None
                    continue
                if got < want:
                    failures += 1
                    if failures > self._quick_retries:
                        raise OriginError("the origin kept ending the body early", retryable=True)
            finally:
                resp.close()
        return got

    @staticmethod
    def _check_same(
        resp: requests.Response, first: int, last: int, validator: str | None, total: int
    ) -> None:
        match = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
        if not match:
            raise OriginError("the origin's range answer has no Content-Range", retryable=True)
        if match.group(3) != "*" and int(match.group(3)) != total:
            raise SourceChanged(f"the file's length changed from {total} to {match.group(3)}")
        if int(match.group(1)) != first or int(match.group(2)) > last:
            raise OriginError("the origin answered a different byte range", retryable=True)
        etag = _strong_etag(resp.headers.get("etag"))
        if validator and validator.startswith('"') and etag and etag != validator:
            raise SourceChanged("the file's ETag changed")
        modified = resp.headers.get("last-modified")
        if validator and not validator.startswith('"') and modified and modified != validator:
            raise SourceChanged("the file's Last-Modified changed")

    def _read_into(
        self, resp: requests.Response, into: memoryview, progress: Callable[[int], None],
        pacer: Pacer | None = None,
    ) -> tuple[int, BaseException | None]:
        """Bytes read into ``into``, and the error that broke the connection, if one did."""
        raw = resp.raw
        got = 0
        while got < len(into):
            size = pacer.read_size(CHUNK) if pacer is not None else CHUNK
            try:
                data = raw.read(min(size, len(into) - got), decode_content=False)
            except _READ_ERRORS as exc:
                return got, exc
            if not data:
                break
            into[got : got + len(data)] = data
            got += len(data)
            progress(len(data))
            self._pace(pacer, len(data))
        return got, None

    def _pace(self, pacer: Pacer | None, n: int) -> None:
        if pacer is not None and pacer.active:
            wait = pacer.wait(n, self._monotonic())
            if wait > 0:
                self._sleep(wait)

    # -- plain streams --------------------------------------------------------------------
    def stream(self, url: str, headers: Mapping[str, str], pacer: Pacer | None = None) -> Iterator[bytes]:
        """The whole body, in chunks, for origins that do not serve ranges (paced by ``pacer``)."""
        resp = self._get(url, headers, {})
        if resp.status_code != 200:
            raise self._fail(resp)
        try:
            while True:
                size = pacer.read_size(CHUNK) if pacer is not None else CHUNK
                try:
                    data = resp.raw.read(size, decode_content=False)
                except _READ_ERRORS as exc:
                    raise OriginError(f"the connection broke: {_brief(exc)}", retryable=True) from None
                if not data:
                    return
                yield data
                self._pace(pacer, len(data))
        finally:
            resp.close()


def _brief(exc: BaseException) -> str:
    """An exception as an error message: short, without URL credentials or query values."""
    text = redact(str(exc)) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
