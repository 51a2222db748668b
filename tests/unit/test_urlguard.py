"""The SSRF guard against a list of attempts: every one must be refused with a clear reason.

IP literals go through the real resolver (getaddrinfo parses them; no DNS is asked); names
go through a resolver that answers like an attacker's DNS would. The list is printed and
written to .haul/ssrf-attempts.json for the record.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.adapters.urlguard import BlockedUrl, UrlGuard, refusal

# Names an attacker controls, and what their DNS answers.
ATTACKER_DNS = {
    "internal.example": ["10.0.0.5"],
    "corp.example": ["192.168.1.20"],
    "docker.example": ["172.17.0.1"],
    "loop.example": ["127.0.0.1"],
    "loop6.example": ["::1"],
    "metadata.example": ["169.254.169.254"],
    "metadata6.example": ["fd00:ec2::254"],
    "ecs.example": ["169.254.170.2"],
    "cgnat.example": ["100.64.12.34"],
    "ula.example": ["fc00::1234"],
    "linklocal6.example": ["fe80::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "zero.example": ["0.0.0.0"],
    "mixed.example": ["93.184.216.34", "10.1.2.3"],  # one public, one private answer: refused
    "mixed6.example": ["2606:4700::1", "::1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],  # 169.254.169.254 through NAT64
    "sixtofour.example": ["2002:7f00:1::1"],  # 127.0.0.1 through 6to4
    "multicast.example": ["224.0.0.251"],
    "public.example": ["93.184.216.34"],
}


def attacker_resolver(host: str, port: int) -> list[str]:
    if host in ATTACKER_DNS:
        return ATTACKER_DNS[host]
    import socket

    # Literals only: a name the table does not know would need real DNS, which tests never use.
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    return [str(i[4][0]) for i in infos]


def literal_resolver(host: str, port: int) -> list[str]:
    """The real resolver, for literals in every spelling glibc accepts (no DNS query)."""
    import socket

    try:
        socket.inet_aton(host)  # decimal, octal, hex, short forms: what getaddrinfo would accept
    except OSError:
        if host not in ATTACKER_DNS and host.rstrip(".") != "localhost":  # localhost: /etc/hosts
            return attacker_resolver(host, port)
    if host in ATTACKER_DNS:
        return ATTACKER_DNS[host]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(i[4][0]) for i in infos]


ATTEMPTS = [
    # IPv4 loopback in every encoding
    "http://127.0.0.1/", "http://127.1/", "http://127.0.1/", "http://2130706433/", "http://0x7f000001/",
    "http://0x7f.0x0.0x0.0x1/", "http://0177.0.0.1/", "http://017700000001/", "http://127.000.000.001/",
    "http://127.255.255.254/", "http://localhost/", "http://LOCALHOST:8080/x", "http://localhost./",
    "http://0/", "http://0.0.0.0/", "http://0x0/",
    # private, link-local, CGNAT, reserved
    "http://10.0.0.1/", "http://10.255.255.255/", "http://172.16.0.1/", "http://172.31.255.254/",
    "http://192.168.0.1/", "http://192.168.1.1:8443/admin", "http://169.254.1.1/", "http://100.64.0.1/",
    "http://100.127.255.254/", "http://192.0.0.170/", "http://198.18.0.1/", "http://240.0.0.1/",
    "http://255.255.255.255/", "http://224.0.0.1/", "http://192.0.2.1/",
    # cloud metadata
    "http://169.254.169.254/latest/meta-data/", "http://169.254.169.254:80/", "http://2852039166/",
    "http://0xa9fea9fe/", "http://0251.0376.0251.0376/", "http://169.254.170.2/v2/credentials",
    "http://[fd00:ec2::254]/latest/meta-data/", "http://100.100.100.200/",
    # IPv6 forms
    "http://[::1]/", "http://[0:0:0:0:0:0:0:1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:127.0.0.1]/", "http://[::ffff:169.254.169.254]/",
    "http://[::127.0.0.1]/", "http://[::7f00:1]/", "http://[64:ff9b::127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/", "http://[2002:a9fe:a9fe::1]/", "http://[fc00::1]/", "http://[fd12:3456:789a::1]/",
    "http://[fe80::1]/", "http://[fe80::1%25eth0]/", "http://[ff02::1]/", "http://[2001:db8::1]/",
    "http://[::ffff:10.0.0.1]:8080/",
    # names that resolve to private addresses
    *(f"http://{name}/" for name in ATTACKER_DNS if name != "public.example"),
    "https://metadata.example/latest", "http://internal.example:9200/_cat",
    # parser confusion and other schemes
    "http://127.0.0.1\\@public.example/", "http://public.example\\@127.0.0.1/", "http://%31%32%37.0.0.1/",
    "http://public.example@127.0.0.1/", "http://user:pw@10.0.0.1/",
    "ftp://public.example/x", "file:///etc/passwd", "gopher://127.0.0.1:6379/_INFO", "dict://127.0.0.1:11211/",
    "javascript:alert(1)", "data:text/plain,hi", "http:///x", "http://[::1/", "http://127.0.0.1:99999/",
]
PUBLIC = ["http://public.example/file.iso", "https://93.184.216.34/x", "http://[2606:4700::1]/x",
          "https://public.example:8443/a?b=c", "http://user:pw@public.example/x"]


def test_every_attempt_is_refused_with_a_reason() -> None:
    guard = UrlGuard(allow_private=False, resolve=literal_resolver)
    results: list[dict[str, Any]] = []
    for url in ATTEMPTS:
        try:
            guard.check(url)
            results.append({"url": url, "refused": False, "reason": None})
        except BlockedUrl as exc:
            assert str(exc), url
            results.append({"url": url, "refused": True, "reason": str(exc)})
    out = Path(__file__).resolve().parents[2] / ".haul" / "ssrf-attempts.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"attempts": len(results), "refused": sum(r["refused"] for r in results),
                               "results": results}, indent=2))
    let_through = [r["url"] for r in results if not r["refused"]]
    assert let_through == [], let_through
    print(f"\n{len(results)} SSRF attempts, {sum(r['refused'] for r in results)} refused")


@pytest.mark.parametrize("url", PUBLIC)
def test_public_targets_pass(url: str) -> None:
    UrlGuard(allow_private=False, resolve=attacker_resolver).check(url)


def test_the_reasons_name_what_was_found() -> None:
    guard = UrlGuard(allow_private=False, resolve=attacker_resolver)
    cases = {
        "http://metadata.example/": "metadata.example resolves to is not a public address (a cloud metadata address)",
        "http://0xa9fea9fe/": "resolves to 169.254.169.254",
        "http://10.0.0.1/": "10.0.0.1 is not a public address (private)",
        "http://[fd00:ec2::254]/": "cloud metadata",
        "http://loop.example/": "(loopback)",
        "http://cgnat.example/": "carrier-grade NAT",
        "http://ula.example/": "unique-local",
        "http://mapped.example/": "it carries a refused IPv4 address",
        "http://nat64.example/": "it carries a refused IPv4 address",
        "http://mixed.example/": "(private)",
        "http://public.example\\@127.0.0.1/": "ambiguous",
        "ftp://public.example/": "only http and https",
    }
    for url, fragment in cases.items():
        with pytest.raises(BlockedUrl) as refused:
            guard.check(url)
        assert fragment in str(refused.value), (url, str(refused.value))
        if ".example" in url:  # a name: the address it resolved to is never echoed (issue #11, item 11)
            assert not any(a in str(refused.value) for a in ("169.254", "10.0.0.1", "10.1.2.3", "127.0.0")), url


def test_private_networks_are_allowed_only_by_the_switch() -> None:
    open_guard = UrlGuard(allow_private=True, resolve=attacker_resolver)
    for url in ("http://127.0.0.1:8000/x", "http://internal.example/", "http://[::1]/"):
        open_guard.check(url)
    with pytest.raises(BlockedUrl):
        open_guard.check("file:///etc/passwd")  # the scheme is checked whatever the switch


def test_the_switch_is_off_unless_the_environment_turns_it_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #11, item 6: an unset HAUL_STAGE (or any stage) does not switch the guard off;
    only the local runtime does, for its local stage."""
    from chalicelib.config import Config
    from local_runtime.runtime import prepare_environment

    assert not Config.from_env({}).allow_private_networks and not Config().allow_private_networks
    for stage in ("local", "dev", "prod", "test", "e2e"):
        assert not Config.from_env({"HAUL_STAGE": stage}).allow_private_networks
    monkeypatch.delenv("HAUL_ALLOW_PRIVATE_NETWORKS")
    monkeypatch.setenv("HAUL_STAGE", "local")
    prepare_environment()
    assert Config.from_env().allow_private_networks
    monkeypatch.delenv("HAUL_ALLOW_PRIVATE_NETWORKS")
    monkeypatch.setenv("HAUL_STAGE", "dev")
    prepare_environment()
    assert not Config.from_env().allow_private_networks


def test_the_own_ports_come_from_the_environment() -> None:
    from chalicelib.config import Config

    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5120", "HAUL_WS_ENDPOINT": "http://127.0.0.1:8121/local",
           "HAUL_API_PORT": "8120", "HAUL_AWS_PORT": "5120", "HAUL_WS_PORT": "nonsense"}
    assert Config.from_env(env).own_ports == (5120, 8120, 8121)
    assert Config.from_env({}).own_ports == ()
    guard = UrlGuard(allow_private=True, resolve=attacker_resolver, own_ports=[8120],
                     is_local=lambda ip: str(ip) in {"127.0.0.1", "::1", "192.0.2.10"})
    for url in ("http://127.0.0.1:8120/", "http://loop.example:8120/x", "http://192.0.2.10:8120/"):
        with pytest.raises(BlockedUrl, match="own services"):
            guard.check(url)
    for url in ("http://127.0.0.1:8122/", "http://192.0.2.11:8120/", "http://public.example:8120/"):
        guard.check(url)  # another port, or the same port on another machine
    assert not Config.from_env({"HAUL_STAGE": "local", "HAUL_ALLOW_PRIVATE_NETWORKS": "false"}).allow_private_networks
    assert Config.from_env({"HAUL_STAGE": "prod", "HAUL_ALLOW_PRIVATE_NETWORKS": "true"}).allow_private_networks


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700::1111", "2a00:1450::1"])
def test_public_addresses_are_public(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None
