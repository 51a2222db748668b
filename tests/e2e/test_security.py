"""Accounts and the SSRF switch on the real local runtime, started as a user would.

This runtime has no HAUL_ADMIN_USER: the first admin is made through POST /auth/setup, as
`make run` with no configuration asks. It also runs with HAUL_ALLOW_PRIVATE_NETWORKS=false,
and no workers (nothing submitted here is ever fetched).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
import requests
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.origin import Origin
from tests.support.runtime import RuntimeProcess

PASSWORD = "the first admin's password"


@pytest.fixture(scope="module")
def rt() -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess("e2esec", {
        "HAUL_ALLOW_PRIVATE_NETWORKS": "false", "HAUL_WORKER_PROCESSES": "0",
        "HAUL_ADMIN_USER": "", "HAUL_ADMIN_PASSWORD": "",
    }).start()
    yield runtime
    runtime.stop()


@pytest.fixture(scope="module")
def admin(rt: RuntimeProcess) -> dict[str, str]:
    status = requests.get(f"{rt.api}/auth/status", timeout=5).json()
    assert status == {"setup_required": True, "setup_token_required": False, "authenticated": False, "user": None}
    made = requests.post(f"{rt.api}/auth/setup", json={"username": "first", "password": PASSWORD}, timeout=10)
    assert made.status_code == 201, made.text
    return {"Authorization": f"Bearer {made.json()['access_token']}"}


def test_the_banner_says_how_to_begin(rt: RuntimeProcess) -> None:
    out = rt.output()
    assert "no users yet: create the first admin with POST" in out and "/auth/setup" in out
    assert "downloads from private addresses refused" in out
    assert f"http://127.0.0.1:{rt.api_port}/api/v1/docs" in out


def test_first_run_setup_then_everything_needs_credentials(rt: RuntimeProcess, admin: dict[str, str]) -> None:
    assert requests.get(f"{rt.api}/downloads", timeout=5).status_code == 401
    assert requests.get(f"{rt.api}/downloads", headers=admin, timeout=5).status_code == 200
    again = requests.post(f"{rt.api}/auth/setup", json={"username": "second", "password": PASSWORD}, timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "SETUP_ALREADY_DONE"
    logged = requests.post(f"{rt.api}/auth/login", json={"username": "first", "password": PASSWORD}, timeout=10)
    assert logged.status_code == 200 and logged.json()["user"]["role"] == "admin"
    assert requests.get(f"{rt.api}/docs", timeout=5).headers["Content-Type"].startswith("text/html")


PRIVATE = [
    "http://127.0.0.1:{port}/file.bin", "http://localhost:{port}/file.bin", "http://2130706433:{port}/x",
    "http://0x7f.1:{port}/x", "http://0177.0.0.1/x", "http://[::1]:{port}/x", "http://[::ffff:127.0.0.1]/x",
    "http://10.0.0.1/x", "http://172.16.0.1/x", "http://192.168.1.1/x", "http://100.64.0.1/x",
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
    "http://169.254.170.2/v2/credentials", "http://0.0.0.0/x", "http://[fe80::1]/x", "http://[fc00::1]/x",
    "http://[64:ff9b::a9fe:a9fe]/x", "http://127.0.0.1\\@example.com/x",
]


def test_every_private_target_is_refused(rt: RuntimeProcess, admin: dict[str, str], origin: Origin) -> None:
    for url in PRIVATE:
        answer = requests.post(f"{rt.api}/downloads", json={"url": url.format(port=origin.port)}, headers=admin,
                               timeout=10)
        assert answer.status_code == 422, (url, answer.text)
        detail = answer.json()["error"]["details"][0]
        assert detail["field"] == "url" and ("not a public address" in detail["message"]
                                            or "ambiguous" in detail["message"]), (url, detail)
    assert requests.get(f"{rt.api}/downloads", headers=admin, timeout=5).json()["total"] == 0


def test_websocket_connections_authenticate_at_connect(rt: RuntimeProcess, admin: dict[str, str]) -> None:
    url = f"ws://127.0.0.1:{rt.env['HAUL_WS_PORT']}/{rt.stage}"
    token = admin["Authorization"].removeprefix("Bearer ")

    async def scenario() -> None:
        for bad in (url, f"{url}?token=not-a-token"):
            with pytest.raises(InvalidStatus) as refused:
                async with connect(bad, open_timeout=10):
                    pass
            assert refused.value.response.status_code == 401
        async with connect(f"{url}?token={token}", open_timeout=10) as ws:
            await ws.send('{"action": "ping"}')
            assert "pong" in await asyncio.wait_for(ws.recv(), 10)

    asyncio.run(scenario())


def test_a_method_no_route_has_answers_405_in_the_envelope(rt: RuntimeProcess) -> None:
    """Issue #11, item 12: not http.server's 501 HTML page."""
    import http.client
    import json

    for method in ("TRACE", "CONNECT", "PROPFIND", "BREW"):
        conn = http.client.HTTPConnection("127.0.0.1", rt.api_port, timeout=10)
        try:
            conn.request(method, "/api/v1/downloads")
            answer = conn.getresponse()
            body = answer.read()
        finally:
            conn.close()
        assert answer.status == 405, (method, answer.status, body[:200])
        assert answer.getheader("Content-Type") == "application/json" and "GET" in (answer.getheader("Allow") or "")
        error = json.loads(body)["error"]
        assert error["code"] == "METHOD_NOT_ALLOWED" and method in error["message"] and error["request_id"]
    assert requests.get(f"{rt.api}/health", timeout=5).status_code == 200  # the server goes on
