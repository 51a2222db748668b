"""Every request to a provider or an indexer goes through :class:`ProviderHttp`.

- The URL guard (chalicelib/adapters/urlguard.py) judges every hop, and the session pins each
  connection to the address it checked (chalicelib/adapters/safehttp.py): a base URL a user sets
  cannot make Haul call a metadata address or a private host on a deployed stage, not even
  through a redirect.
- The provider's shared rate limit (pacing.py) is waited for before each request that is
  not answered from the cache (cache.py); a ``429``/``503`` with a short ``Retry-After`` is
  tried once more, a long one answers 503 with ``Retry-After``.
- A timeout, a size cap, and errors in the API envelope with the credentials taken out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import requests

from ...adapters.safehttp import NETWORK_ERRORS, BodyTooLarge, BodyTooSlow, read_body
from ...adapters.urlguard import BlockedUrl, UrlGuard
from .cache import ResponseCache, cache_key
from .errors import ProviderFailed, ProviderNotFound, ProviderRefused, UpstreamBusy
from .pacing import SharedPacer

MAX_JSON = 4 * 1024 * 1024
MAX_IMAGE = 20 * 1024 * 1024
# A Retry-After this short is waited for once; a longer one becomes the caller's 503.
SHORT_RETRY_SECONDS = 2.0
_ERRORS = NETWORK_ERRORS


@dataclass(frozen=True)
class Call:
    """One provider request: where, what to send, how to pace and cache it."""

    provider: str  # the name in messages and cache keys: tmdb, musicbrainz, indexer:<name>
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    secret_params: dict[str, str] = field(default_factory=dict)  # sent, never cached or shown
    headers: dict[str, str] = field(default_factory=dict)
    requests_per_second: float = 1.0
    cache_seconds: int = 0
    pace: str | None = None  # the rate limit's name (default: the provider)

    def secrets(self) -> list[str]:
        found = [v for v in self.secret_params.values() if v]
        found += [v.split(" ", 1)[-1] for k, v in self.headers.items() if k.lower() == "authorization" and v]
        return found


class ProviderHttp:
    def __init__(self, session: requests.Session, guard: UrlGuard, cache: ResponseCache, pacer: SharedPacer,
                 timeout: tuple[float, float] = (3.05, 10.0), max_redirects: int = 3,
                 sleep: Callable[[float], None] = time.sleep, total_seconds: float = 15.0) -> None:
        self.session = session
        self.guard = guard
        self.cache = cache
        self.pacer = pacer
        self.timeout = timeout
        self.max_redirects = max_redirects
        self._sleep = sleep
        # A body that trickles in is cut off after this long (the read timeout is per chunk).
        self.total_seconds = total_seconds

    def check(self, provider: str, setting: str, url: str) -> None:
        """Raise ProviderRefused unless the guard lets Haul call ``url`` (a base URL setting)."""
        try:
            self.guard.check(url)
        except BlockedUrl as exc:
            raise ProviderRefused(f"{provider}: the setting {setting} is refused: {exc}",
                                  [{"field": setting, "message": str(exc)}]) from None

    def get_json(self, call: Call) -> Any:
        key = cache_key(call.provider, call.url, call.params)
        if call.cache_seconds > 0:
            cached = self.cache.get(key)
            if cached is not None:
                return cached
        body, _ = self._get(call, MAX_JSON, "application/json")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise ProviderFailed(f"{call.provider} answered something that is not JSON") from None
        self.cache.put(key, data, call.cache_seconds)
        return data

    def get_text(self, call: Call, accept: str) -> bytes:
        """The body of a non-JSON answer (an indexer's XML); cached as text."""
        key = cache_key(call.provider, call.url, call.params)
        if call.cache_seconds > 0:
            cached = self.cache.get(key)
            if isinstance(cached, str):
                return cached.encode()
        body, _ = self._get(call, MAX_JSON, accept)
        self.cache.put(key, body.decode("utf-8", "replace"), call.cache_seconds)
        return body

    def get_bytes(self, call: Call, max_bytes: int = MAX_IMAGE) -> tuple[bytes, str]:
        """An image: its bytes and content type (never cached: it is stored where it goes)."""
        return self._get(call, max_bytes, "image/*")

    # -- the request ------------------------------------------------------------------------
    def _get(self, call: Call, max_bytes: int, accept: str) -> tuple[bytes, str]:
        for attempt in range(2):
            try:
                return self._once(call, max_bytes, accept)
            except UpstreamBusy as exc:
                if attempt or exc.retry_after > SHORT_RETRY_SECONDS:
                    raise
                self._sleep(exc.retry_after)
        raise AssertionError("unreachable")  # pragma: no cover

    def _once(self, call: Call, max_bytes: int, accept: str) -> tuple[bytes, str]:
        url = call.url
        params: Mapping[str, Any] | None = {**call.params, **call.secret_params}
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate", **call.headers}
        started = time.monotonic()
        for _ in range(self.max_redirects + 1):
            try:
                self.guard.check(url)
            except BlockedUrl as exc:
                raise ProviderRefused(f"{call.provider}: the URL is refused: {exc}") from None
            self.pacer.wait(call.pace or call.provider, call.requests_per_second)
            try:
                resp = self.session.get(url, params=params, headers=headers, stream=True, allow_redirects=False,
                                        timeout=self.timeout)
            except _ERRORS as exc:
                raise ProviderFailed(f"cannot reach {call.provider}: {self._brief(exc, call)}") from None
            try:
                if resp.is_redirect and "location" in resp.headers:
                    url, params = urljoin(resp.url, resp.headers["location"]), None
                    headers.pop("Authorization", None)
                    continue
                return self._answer(call, resp, max_bytes, started), resp.headers.get("content-type", "")
            finally:
                resp.close()
        raise ProviderFailed(f"{call.provider}: more than {self.max_redirects} redirects")

    def _answer(self, call: Call, resp: requests.Response, max_bytes: int, started: float) -> bytes:
        status = resp.status_code
        if status == 404:
            raise ProviderNotFound(f"{call.provider} has no such item (HTTP 404)")
        if status in (429, 503):
            retry = _retry_after(resp.headers.get("retry-after"))
            raise UpstreamBusy(f"{call.provider} is rate limiting Haul (HTTP {status}); try again in {retry} s", retry)
        if status in (401, 403):
            raise ProviderFailed(f"{call.provider} refused the request (HTTP {status}): check its API key or "
                                 "contact setting")
        if status != 200:
            raise ProviderFailed(f"{call.provider} answered HTTP {status}")
        try:
            return read_body(resp, max_bytes, lambda: time.monotonic() - started > self.total_seconds)
        except BodyTooLarge:
            raise ProviderFailed(f"{call.provider}'s answer is larger than {max_bytes} bytes") from None
        except BodyTooSlow:
            raise ProviderFailed(f"{call.provider} took longer than {self.total_seconds:g} s to answer") from None
        except _ERRORS as exc:
            raise ProviderFailed(f"{call.provider}'s answer broke off: {self._brief(exc, call)}") from None

    @staticmethod
    def _brief(exc: BaseException, call: Call) -> str:
        text = str(exc) or type(exc).__name__
        for secret in call.secrets():
            text = text.replace(secret, "***")
        return text if len(text) <= 300 else text[:300] + "..."


def _retry_after(value: str | None) -> int:
    try:
        return max(1, min(3600, int(float((value or "1").strip()))))
    except ValueError:
        return 5
