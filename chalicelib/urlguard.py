"""Which URLs Haul may fetch: the seam every user URL and every redirect hop goes through.

Only ``http``/``https``. Unless the stage allows private networks, the host is resolved and
every address it resolves to must be publicly routable: loopback, private, link-local,
carrier-grade NAT, unique-local, multicast, reserved and documentation ranges and the cloud
metadata addresses are refused, and so are IPv6 forms that carry such an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4). IP literals in any spelling the resolver
accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are judged by the address they mean.

:meth:`UrlGuard.pin` is the same check at connection time (chalicelib/safehttp.py): the
connection goes to the address that was checked, so a DNS answer that changes between the
check and the connection (rebinding) cannot reach a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import urllib3.util

Resolver = Callable[[str, int], list[str]]
IP = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata and platform endpoints (AWS IMDS v4/v6, ECS task metadata, Alibaba, Azure's
# wire server, which is a public address).
METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "169.254.170.23", "fd00:ec2::23",
    "100.100.100.200", "168.63.129.16",
))
# Not publicly routable, though Python's is_global may say otherwise (it varies by version).
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4", "::/96", "64:ff9b:1::/48", "100::/64",
    "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10",
))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def refusal(ip: IP) -> str | None:
    """Why ``ip`` is not a public address Haul may connect to; None when it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded: ipaddress.IPv4Address | None = None
        if ip.ipv4_mapped is not None:
            embedded = ip.ipv4_mapped
        elif ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        elif ip.sixtofour is not None:
            embedded = ip.sixtofour
        if embedded is not None:
            inner = refusal(embedded)
            if inner:
                return f"it carries the IPv4 address {embedded} ({inner})"
    if ip in METADATA:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "loopback"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_link_local:
        return "link-local"
    if isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.IPv4Network("100.64.0.0/10"):
        return "carrier-grade NAT"
    if isinstance(ip, ipaddress.IPv6Address) and ip in ipaddress.IPv6Network("fc00::/7"):
        return "unique-local"
    if ip.is_private:
        return "private"
    if any(ip.version == net.version and ip in net for net in _NOT_GLOBAL) or not ip.is_global:
        return "reserved"
    return None


class BlockedUrl(ValueError):
    """A URL Haul refuses to fetch; the message says why, for the user."""


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class UrlGuard:
    def __init__(self, allow_private: bool, resolve: Resolver = _resolve,
                 refuse: Callable[[IP], str | None] = refusal) -> None:
        self.allow_private = allow_private
        self._resolve = resolve
        self._refuse = refuse

    def check(self, url: str) -> None:
        """Raise BlockedUrl unless Haul may fetch ``url``."""
        host, port = self._parse(url)
        if not self.allow_private:
            self.pin(host, port)

    def pin(self, host: str, port: int) -> str:
        """Resolve ``host`` once; the address to connect to, if every address it has is public."""
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise BlockedUrl(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise BlockedUrl(f"{host} resolves to no address")
        for address in addresses:
            try:
                ip = ipaddress.ip_address(address.split("%", 1)[0])
            except ValueError:
                raise BlockedUrl(f"{host} resolves to {address!r}, which is not an IP address") from None
            why = self._refuse(ip)
            if why:
                what = f"{host} is" if host == address else f"{host} resolves to {ip}, which is"
                raise BlockedUrl(f"{what} not a public address ({why})")
        return addresses[0]

    @staticmethod
    def _parse(url: str) -> tuple[str, int]:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            raise BlockedUrl(f"the URL is malformed: {exc}") from None
        if parts.scheme not in {"http", "https"}:
            raise BlockedUrl(f"only http and https URLs can be downloaded, not {parts.scheme or 'this'!r}")
        if not host:
            raise BlockedUrl("the URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise BlockedUrl(f"the URL's port is invalid: {exc}") from None
        # The HTTP client parses URLs with urllib3: both parsers must see the same host and
        # port, or the host that was checked might not be the one connected to.
        try:
            other = urllib3.util.parse_url(url)
        except urllib3.exceptions.LocationParseError as exc:
            raise BlockedUrl(f"the URL is malformed: {exc}") from None
        if "%" in host:
            raise BlockedUrl("the URL's host may not be percent-encoded or carry an IPv6 zone")
        try:
            ascii_host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            raise BlockedUrl(f"{host!r} is not a valid host name") from None
        other_host = (other.host or "").strip("[]").lower()
        if other_host not in {ascii_host, host.lower()} or (other.port or port) != port:
            raise BlockedUrl("the URL is ambiguous (its host reads differently to different parsers)")
        return host, port
