"""The HTTP session origins are fetched with: connections pinned to checked addresses.

Where private networks are refused, :class:`PinnedAdapter` resolves the URL's host once per
connection pool, checks every address with the same :class:`~chalicelib.adapters.urlguard.UrlGuard`
the API uses, and connects to the address it checked: a DNS answer that changes after the
check (rebinding) is never connected to. TLS keeps the hostname: SNI and certificate
verification use it, not the address. (The technique is requests-hardened's; that library's
own filter checks only the first address, judges fewer ranges and has no switch for private
networks, so Haul keeps its one policy in urlguard.py.)

Environment proxies and ``.netrc`` credentials are ignored in that mode (``trust_env``): a
proxy would resolve the host itself, and ``.netrc`` would send the machine's credentials to
whatever host a user names.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from .urlguard import BlockedUrl, UrlGuard

USER_AGENT = "Haul/0.1 (+serverless download manager)"
# What a request or a body read raises when the network or the peer fails.
NETWORK_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError, OSError)


class BodyTooLarge(Exception):
    """The body is over the caller's cap; ``declared`` is its Content-Length when that said so."""

    def __init__(self, declared: str | None = None) -> None:
        super().__init__(declared or "")
        self.declared = declared


class BodyTooSlow(Exception):
    """The body was still arriving when the caller's deadline passed."""


def read_body(resp: requests.Response, max_bytes: int, past_deadline: Callable[[], bool]) -> bytes:
    """A streamed response's body, decompressed as it is read, refused over ``max_bytes``.

    An unencoded Content-Length over the cap is refused before a byte is read; otherwise the
    running total is. ``past_deadline`` is asked after every chunk. Network errors
    (:data:`NETWORK_ERRORS`) propagate for the caller to word.
    """
    length = resp.headers.get("content-length")
    encoded = (resp.headers.get("content-encoding") or "identity").lower() not in {"identity", ""}
    if length and length.isdigit() and not encoded and int(length) > max_bytes:
        raise BodyTooLarge(length)
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_content(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise BodyTooLarge()
        if past_deadline():
            raise BodyTooSlow()
        chunks.append(chunk)
    return b"".join(chunks)


class BlockedConnection(requests.exceptions.ConnectionError):
    """A connection refused because the host resolved to a private address at connection time."""


class PinnedAdapter(HTTPAdapter):
    def __init__(self, guard: UrlGuard, **kwargs: Any) -> None:
        self.guard = guard
        super().__init__(**kwargs)

    def build_connection_pool_key_attributes(  # type: ignore[override]
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        params, kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params: dict[str, Any] = dict(params)
        pool_kwargs: dict[str, Any] = dict(kwargs)
        host = str(host_params["host"]).strip("[]")
        scheme = host_params["scheme"]
        port = host_params["port"] or (443 if scheme == "https" else 80)
        try:
            address = self.guard.pin(host, int(port))
        except BlockedUrl as exc:
            raise BlockedConnection(str(exc), request=request) from None
        # The request keeps naming the host; only the socket goes to the checked address.
        request.headers = CaseInsensitiveDict(request.headers or {})
        shown = f"[{host}]" if ":" in host else host
        request.headers["Host"] = f"{shown}:{host_params['port']}" if host_params["port"] else shown
        if scheme == "https":
            pool_kwargs["server_hostname"] = host
            pool_kwargs["assert_hostname"] = host
        host_params["host"] = f"[{address}]" if ":" in address else address
        return host_params, pool_kwargs

    def get_connection(self, url: Any, proxies: Any = None) -> Any:  # pragma: no cover - deprecated path
        # requests >= 2.32 calls get_connection_with_tls_context; this older entry point would
        # connect without pinning, so it refuses outright.
        raise RuntimeError("refusing an unpinned connection: only get_connection_with_tls_context pins the address")


def session(guard: UrlGuard, pool_connections: int = 16, pool_maxsize: int = 64) -> requests.Session:
    """The origin client's session: pinned unless ``guard`` allows private networks and has no
    own services to keep out of reach."""
    s = requests.Session()
    if not guard.pins:
        adapter: HTTPAdapter = HTTPAdapter(pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0)
    else:
        adapter = PinnedAdapter(guard, pool_connections=pool_connections, pool_maxsize=pool_maxsize, max_retries=0)
        s.trust_env = False
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    return s
