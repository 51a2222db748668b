"""The SSRF guard where it matters most: in the HTTP client the worker fetches with.

A real origin on 127.0.0.1 plays "the public internet": the guard's policy is the real one,
except that 127.0.0.1 counts as public here. Names resolve through a table, as an attacker's
DNS would answer. Nothing here connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable

import pytest

from chalicelib.adapters import safehttp
from chalicelib.adapters.origin import OriginClient, OriginError
from chalicelib.adapters.urlguard import BlockedUrl, UrlGuard, refusal
from tests.support.origin import Origin, Resource

THE_ORIGIN = "127.0.0.1"


def pretend_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    return None if str(ip) == THE_ORIGIN else (refusal(ip) or "not the test origin")


class Dns:
    """name -> answers; a name with several answers gives the next one at each lookup."""

    def __init__(self, table: dict[str, list[list[str]]]) -> None:
        self.table = table
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.table:
            try:
                return [str(ipaddress.ip_address(host))]
            except ValueError:
                pass
            try:  # the other IPv4 spellings getaddrinfo accepts (2130706433, 0x7f.1, ...)
                return [socket.inet_ntoa(socket.inet_aton(host))]
            except OSError:
                raise OSError(f"no such name: {host}") from None
        answers = self.table[host]
        return answers.pop(0) if len(answers) > 1 else answers[0]


def client(dns: Callable[[str, int], list[str]]) -> OriginClient:
    guard = UrlGuard(allow_private=False, resolve=dns, refuse=pretend_public)
    return OriginClient(safehttp.session(guard), guard, timeout=(2.0, 5.0))


def test_the_connection_goes_to_the_checked_address_and_keeps_the_name(origin: Origin) -> None:
    res = origin.add("/a.bin", Resource(data=b"x" * 1000))
    dns = Dns({"files.test": [[THE_ORIGIN]]})
    probe = client(dns).probe(f"http://files.test:{origin.port}/a.bin", {})
    assert probe.size == 1000
    assert res.requests[0]["headers"]["Host"] == f"files.test:{origin.port}"
    # Checked once by the guard, then resolved once more where the connection is made.
    assert dns.lookups == ["files.test", "files.test"]


def test_a_dns_answer_that_changes_after_the_check_is_never_connected_to(origin: Origin) -> None:
    res = origin.add("/a.bin", Resource(data=b"x" * 1000))
    # Rebinding: a public answer for the check, a private one for the connection.
    dns = Dns({"rebind.test": [[THE_ORIGIN], ["127.0.0.2"], ["127.0.0.2"], ["127.0.0.2"], ["127.0.0.2"]]})
    with pytest.raises(OriginError) as refused:
        client(dns).probe(f"http://rebind.test:{origin.port}/a.bin", {})
    assert "rebind.test resolves to is not a public address (loopback)" in str(refused.value)
    assert "127.0.0.2" not in str(refused.value)  # the inside address is not echoed
    assert res.requests == []


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://internal.test:{port}/x", "internal.test resolves to is not a public address (private)"),
        ("http://127.0.0.2:{port}/x", "not a public address (loopback)"),
        ("http://[::1]:{port}/x", "not a public address (loopback)"),
        ("http://2130706434:{port}/x", "2130706434 resolves to 127.0.0.2"),  # 127.0.0.2, spelt as a number
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "cloud metadata"),
        ("http://metadata.test/latest/meta-data/", "cloud metadata"),
        ("http://[::ffff:10.0.0.1]:{port}/x", "carries the IPv4 address 10.0.0.1"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://127.0.0.1:6379/_x", "only http and https"),
    ],
)
def test_every_redirect_hop_is_checked(origin: Origin, target: str, reason: str) -> None:
    origin.add("/hop", Resource(data=b"", redirect_to=target.format(port=origin.port)))
    dns = Dns({"files.test": [[THE_ORIGIN]], "internal.test": [["10.0.0.5"]], "metadata.test": [["169.254.169.254"]]})
    with pytest.raises(BlockedUrl) as refused:
        client(dns).probe(f"http://files.test:{origin.port}/hop", {})
    assert reason in str(refused.value)


def test_a_chain_of_redirects_is_followed_while_each_hop_is_public(origin: Origin) -> None:
    origin.add("/one", Resource(data=b"", redirect_to=f"http://other.test:{origin.port}/two"))
    origin.add("/two", Resource(data=b"", redirect_to="/three"))
    origin.add("/three", Resource(data=b"y" * 10))
    dns = Dns({"files.test": [[THE_ORIGIN]], "other.test": [[THE_ORIGIN]]})
    probe = client(dns).probe(f"http://files.test:{origin.port}/one", {})
    assert probe.size == 10 and probe.url == f"http://other.test:{origin.port}/three"


def test_credentials_and_custom_headers_stay_with_their_origin(origin: Origin) -> None:
    origin.add("/same", Resource(data=b"", redirect_to="/final"))
    origin.add("/away", Resource(data=b"", redirect_to=f"http://other.test:{origin.port}/final"))
    final = origin.add("/final", Resource(data=b"z" * 10))
    dns = Dns({"files.test": [[THE_ORIGIN]], "other.test": [[THE_ORIGIN]]})
    secret = {"Authorization": "Bearer s3cret", "Cookie": "session=abc", "X-Custom": "1"}
    c = client(dns)

    c.probe(f"http://files.test:{origin.port}/same", secret)
    kept = final.requests[-1]["headers"]
    assert (kept.get("Authorization"), kept.get("Cookie"), kept.get("X-Custom")) == (
        "Bearer s3cret",
        "session=abc",
        "1",
    )

    c.probe(f"http://files.test:{origin.port}/away", secret)
    c.probe(f"http://user:pw@files.test:{origin.port}/away", {})
    for request in final.requests[-2:]:
        headers = {k.lower() for k in request["headers"]}
        assert not headers & {"authorization", "cookie", "x-custom"}, request["headers"]
        assert request["headers"]["Range"] == "bytes=0-0" and request["headers"]["Host"] == f"other.test:{origin.port}"


def test_private_networks_allowed_means_no_pinning(origin: Origin) -> None:
    origin.add("/a.bin", Resource(data=b"x" * 5))
    guard = UrlGuard(allow_private=True)
    session = safehttp.session(guard)
    assert not isinstance(session.get_adapter("http://x/"), safehttp.PinnedAdapter)
    assert OriginClient(session, guard).probe(origin.url("/a.bin"), {}).size == 5
    strict = safehttp.session(UrlGuard(allow_private=False))
    assert isinstance(strict.get_adapter("https://x/"), safehttp.PinnedAdapter) and strict.trust_env is False


# -- the local stage's own services (issue #11, item 6) ---------------------------------------


def test_the_runtimes_own_services_are_never_an_origin(origin: Origin) -> None:
    """With private networks allowed, the origin on loopback is fetched; the runtime's own
    ports on this machine are not, however they are reached: named directly, by a name that
    resolves there (at the check or only at connection time), or as a redirect hop."""
    own = origin.port  # stands for the emulator: an HTTP server on this machine
    res = origin.add("/bucket", Resource(data=b"secret listing"))
    origin.add("/hop", Resource(data=b"", redirect_to=f"http://127.0.0.1:{own}/bucket"))
    dns = Dns({"rebind.test": [["93.184.216.34"], ["127.0.0.1"]], "files.test": [["127.0.0.1"]],
               "localhost": [["127.0.0.1"]]})
    guard = UrlGuard(allow_private=True, resolve=dns, own_ports=[own])
    session = safehttp.session(guard)
    assert isinstance(session.get_adapter("http://x/"), safehttp.PinnedAdapter)
    c = OriginClient(session, guard, timeout=(2.0, 5.0))
    for url in (f"http://127.0.0.1:{own}/bucket", f"http://localhost:{own}/bucket", f"http://[::1]:{own}/bucket",
                f"http://0.0.0.0:{own}/bucket", f"http://2130706433:{own}/bucket", f"http://files.test:{own}/bucket"):
        with pytest.raises(BlockedUrl) as refused:
            guard.check(url)
        assert "own services" in str(refused.value), url
    with pytest.raises(OriginError) as at_connect:  # public at the check, this machine at the connection
        c.probe(f"http://rebind.test:{own}/bucket", {})
    assert "own services" in str(at_connect.value)
    with pytest.raises(BlockedUrl):
        c.probe(f"http://files.test:{own}/hop", {})
    assert res.requests == []
    # Another port of this machine is still a private origin the local stage may fetch.
    other = Origin().__enter__()
    try:
        other.add("/ok", Resource(data=b"fine"))
        assert c.probe(f"http://127.0.0.1:{other.port}/ok", {}).size == 4
    finally:
        other.__exit__(None, None, None)
