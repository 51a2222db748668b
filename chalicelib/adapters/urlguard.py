"""Which URLs Haul may fetch: the seam every user URL and every redirect hop goes through.

Only ``http``/``https``. Unless the stage allows private networks, the host is resolved and
every address it resolves to must be publicly routable: loopback, private, link-local,
carrier-grade NAT, unique-local, multicast, reserved and documentation ranges and the cloud
metadata addresses are refused, and so are IPv6 forms that carry such an IPv4 address
(IPv4-mapped, IPv4-compatible, NAT64, 6to4). IP literals in any spelling the resolver
accepts (``2130706433``, ``0x7f.1``, ``0177.0.0.1``) are judged by the address they mean.

:meth:`UrlGuard.pin` is the same check at connection time (chalicelib/adapters/safehttp.py): the
connection goes to the address that was checked, so a DNS answer that changes between the
check and the connection (rebinding) cannot reach a private address.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
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


def _embedded_ipv4(ip: IP) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64 or 6to4), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def refusal(ip: IP) -> str | None:
    """Why ``ip`` is not a public address Haul may connect to; None when it is one."""
    embedded = _embedded_ipv4(ip)
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


def _category(why: str) -> str:
    """A refusal's reason without any address in it."""
    return "it carries a refused IPv4 address" if why.startswith("it carries") else why


class BlockedUrl(ValueError):
    """A URL Haul refuses to fetch; the message says why, for the user."""


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def on_this_machine(ip: IP) -> bool:
    """Whether ``ip`` reaches this machine: loopback, unspecified, or one of its own addresses
    (the kernel lets a socket bind only to an address of this machine)."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback or ip.is_unspecified:
        return True
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((str(ip), 0))
        return True
    except OSError:
        return False


def _is_literal(host: str) -> bool:
    """Whether ``host`` is an IP address in some spelling (nothing was looked up to read it)."""
    if ":" in host:
        return True
    try:
        socket.inet_aton(host)  # also 2130706433, 0x7f.1, 0177.0.0.1
        return True
    except OSError:
        return False


class UrlGuard:
    def __init__(self, allow_private: bool, resolve: Resolver = _resolve,
                 refuse: Callable[[IP], str | None] = refusal, own_ports: Iterable[int] = (),
                 is_local: Callable[[IP], bool] = on_this_machine) -> None:
        self.allow_private = allow_private
        # The ports this Haul's own services listen on (the local stage's AWS emulator, REST API
        # and WebSocket gateway): never an origin on this machine, whatever the switch says.
        self.own_ports = frozenset(own_ports)
        self._resolve = resolve
        self._refuse = refuse
        self._is_local = is_local

    @property
    def pins(self) -> bool:
        """Whether connections must go to the address checked (safehttp.PinnedAdapter)."""
        return not self.allow_private or bool(self.own_ports)

    def check(self, url: str) -> None:
        """Raise BlockedUrl unless Haul may fetch ``url``."""
        host, port = self._parse(url)
        if not self.allow_private or port in self.own_ports:
            self.pin(host, port)

    def pin(self, host: str, port: int) -> str:
        """Resolve ``host`` once; the address to connect to, if every address it has may be
        fetched from: public (unless private networks are allowed), and not one of this Haul's
        own services."""
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
            if port in self.own_ports and self._is_local(ip):
                raise BlockedUrl(f"{host}:{port} is one of this Haul's own services (its AWS emulator, REST API "
                                 "or WebSocket gateway), never a place to download from")
            why = None if self.allow_private else self._refuse(ip)
            if why:
                if _is_literal(host):  # what the user wrote: saying what it means reveals nothing
                    what = f"{host} is" if host == address else f"{host} resolves to {ip}, which is"
                    raise BlockedUrl(f"{what} not a public address ({why})")
                # A name: the address it resolved to stays private (it may map an inside network).
                raise BlockedUrl(f"the address {host} resolves to is not a public address ({_category(why)})")
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
