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
