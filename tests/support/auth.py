"""Logging in, for tests: over HTTP (a running runtime) or straight through the service."""

from __future__ import annotations

import uuid
from typing import Any

import requests

PASSWORD = "correct horse battery staple"


def login(api: str, username: str, password: str) -> dict[str, str]:
    """Headers that authenticate as ``username`` against the API at ``api``."""
    answer = requests.post(f"{api}/auth/login", json={"username": username, "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def session(api: str, username: str, password: str) -> requests.Session:
    """A requests session that sends ``username``'s access token with every request."""
    s = requests.Session()
    s.headers.update(login(api, username, password))
    return s


def new_user(role: str = "user", name: str | None = None) -> tuple[str, dict[str, str], dict[str, Any]]:
    """A fresh user made through the service (the emulator must run): id, auth headers, login answer."""
    from chalicelib.auth.schemas import CreateUser, Login
    from chalicelib.container import services

    accounts = services().accounts
    username = name or f"{role}-{uuid.uuid4().hex[:10]}"
    user = accounts.create_user(CreateUser(username=username, password=PASSWORD, role=role))  # type: ignore[arg-type]
    grant = accounts.login(Login(username=username, password=PASSWORD), f"test-{uuid.uuid4().hex}")
    return user.id, {"Authorization": f"Bearer {grant.access_token}"}, grant.view()
