"""Calling the REST API in-process (Chalice's test client) with JSON, as a given user."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.test import Client

P = "/api/v1"
Call = Callable[..., Any]


def json_caller(client: Client) -> Call:
    """``call(headers, method, path, body=None)`` -> the answer; never a 5xx (asserted)."""

    def call(headers: dict[str, str], method: str, path: str, body: Any = None) -> Any:
        resp = client.http.request(method, P + path, headers={"Content-Type": "application/json", **headers},
                                   body=b"" if body is None else json.dumps(body).encode())
        assert resp.status_code < 500, resp.body
        return resp

    return call


class UserCaller:
    """Calls as one user: ``caller(method, path, body=None)`` -> the answer, its JSON body in
    ``.data``. Never a 500 or 504 (asserted); 502/503 are answers some routes document (an
    outside service failing or not configured)."""

    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self._client = client
        self.headers = headers

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        resp = self._client.http.request(
            method, P + path, headers={"Content-Type": "application/json", **self.headers}, body=data)
        assert resp.status_code not in (500, 504), resp.body
        resp.data = json.loads(resp.body) if resp.body else None  # type: ignore[attr-defined]
        return resp
