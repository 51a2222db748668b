"""Which URLs Haul may fetch: the seam every user URL and every redirect hop goes through."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]


class BlockedUrl(ValueError):
    """A URL Haul refuses to fetch; the message says why, for the user."""


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class UrlGuard:
    def __init__(self, allow_private: bool, resolve: Resolver = _resolve) -> None:
        self.allow_private = allow_private
        self._resolve = resolve

    def check(self, url: str) -> None:
        try:
            parts = urlsplit(url)
            parts.hostname  # noqa: B018 - parses the netloc; a malformed one raises here
        except ValueError as exc:
            raise BlockedUrl(f"the URL is malformed: {exc}") from None
        if parts.scheme not in {"http", "https"}:
            raise BlockedUrl(f"only http and https URLs can be downloaded, not {parts.scheme or 'this'!r}")
        if not parts.hostname:
            raise BlockedUrl("the URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise BlockedUrl(f"the URL's port is invalid: {exc}") from None
        if self.allow_private:
            return
        try:
            addresses = self._resolve(parts.hostname, port)
        except OSError as exc:
            raise BlockedUrl(f"cannot resolve {parts.hostname}: {exc}") from None
        for address in addresses:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
            if not ip.is_global:
                raise BlockedUrl(
                    f"{parts.hostname} resolves to {ip}, which is not a public address"
                )
