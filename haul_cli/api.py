"""The REST API over httpx: credentials, silent token refresh, the error envelope, cursors.

Only the public API (README.md, /api/v1/openapi.json): nothing here knows the server's code.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from . import __version__
from .config import API_PREFIX, Credentials, Store
from .errors import AUTH, SERVER, UNREACHABLE, CliError, exit_code_for_status

TIMEOUT = httpx.Timeout(30.0, connect=10.0)  # API Gateway answers within 29 s


def token_expiry(token: str) -> float | None:
    """The ``exp`` of a JWT (read, not verified: the server verifies), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, KeyError, TypeError, ValueError):
        return None


def error_from(response: httpx.Response) -> CliError:
    """The API's envelope as a CliError; anything else as a SERVER error naming the status."""
    request_id = response.headers.get("X-Request-Id")
    try:
        body = response.json()
        err = body["error"]
        message = str(err.get("message") or response.reason_phrase)
        if response.status_code == 429 and response.headers.get("Retry-After"):
            message += f" (retry after {response.headers['Retry-After']} s)"
        return CliError(message, exit_code_for_status(response.status_code),
                        code=str(err.get("code") or ""), request_id=err.get("request_id") or request_id,
                        status=response.status_code, details=list(err.get("details") or []))
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else response.reason_phrase
        code = exit_code_for_status(response.status_code) if response.status_code >= 400 else SERVER
        return CliError(f"HTTP {response.status_code} from {response.request.url}: {text}", code,
                        request_id=request_id, status=response.status_code)


class Api:
    def __init__(self, url: str, creds: Credentials | None, store: Store | None = None,
                 api_key: str | None = None, ws_url: str | None = None) -> None:
        self.url = url
        self.base = url + API_PREFIX
        self.creds = creds or Credentials(url=url)
        self.store = store
        self.api_key = api_key or self.creds.api_key
        self._ws_url = ws_url
        self.http = httpx.Client(timeout=TIMEOUT, headers={"User-Agent": f"haul-cli/{__version__}"})

    def close(self) -> None:
        self.http.close()

    # -- credentials -----------------------------------------------------------------------
    @property
    def logged_in(self) -> bool:
        return bool(self.api_key or self.creds.access_token)

    def token(self) -> str:
        """A credential a WebSocket accepts in its query string: the API key or a fresh access token."""
        if self.api_key:
            return self.api_key
        self._auth_headers()
        if not self.creds.access_token:
            raise CliError(f"not logged in to {self.url}: run `haul login`", AUTH)
        return self.creds.access_token

    def _auth_headers(self) -> dict[str, str]:
        if self.api_key:
            return {"X-API-Key": self.api_key}
        if not self.creds.access_token:
            return {}
        expires = token_expiry(self.creds.access_token)
        if expires is not None and expires - time.time() < 30 and self.creds.refresh_token:
            self.refresh(self.creds.access_token)
        return {"Authorization": f"Bearer {self.creds.access_token}"}

    def refresh(self, stale: str | None) -> None:
        """Trade the refresh token for new tokens, once across every haul process: under the
        store's lock, a token another process already refreshed is adopted instead."""
        if not self.creds.refresh_token:
            raise CliError(f"session expired on {self.url}: run `haul login`", AUTH)
        lock = self.store.locked() if self.store else contextlib.nullcontext()
        with lock:
            stored = self.store.get(self.url) if self.store else None
            if stored and stored.access_token and stored.access_token != stale:
                exp = token_expiry(stored.access_token)
                if exp is None or exp - time.time() > 30:
                    self.creds = stored
                    return
            refresh_token = (stored.refresh_token if stored else None) or self.creds.refresh_token
            answer = self._send("POST", "/auth/refresh", json={"refresh_token": refresh_token})
            if answer.status_code != 200:
                raise CliError(f"session expired on {self.url}: run `haul login`", AUTH,
                               request_id=answer.headers.get("X-Request-Id"), status=answer.status_code)
            grant = answer.json()
            self.creds.access_token = grant["access_token"]
            self.creds.refresh_token = grant["refresh_token"]
            if self.store:
                self.store.save(self.creds, make_current=False)

    # -- requests --------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        url = path if path.startswith("http") else self.base + path
        try:
            return self.http.request(method, url, headers=headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise CliError(f"{self.url} did not answer in time ({type(exc).__name__})", UNREACHABLE) from exc
        except httpx.TransportError as exc:
            raise CliError(f"cannot reach {self.url}: {exc}", UNREACHABLE) from exc

    def request(
        self, method: str, path: str, *, auth: bool = True, ok: tuple[int, ...] = (), **kwargs: Any
    ) -> httpx.Response:
        headers = self._auth_headers() if auth else {}
        answer = self._send(method, path, headers=headers, **kwargs)
        if answer.status_code == 401 and auth and not self.api_key and self.creds.refresh_token:
            self.refresh(self.creds.access_token)
            answer = self._send(method, path, headers=self._auth_headers(), **kwargs)
        if answer.status_code >= 400 and answer.status_code not in ok:
            err = error_from(answer)
            if answer.status_code == 401 and not self.logged_in:
                err.message += f" (not logged in to {self.url}: run `haul login` or set HAUL_API_KEY)"
            raise err
        return answer

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=_clean(params)).json()

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        answer = self.request("POST", path, json=body if body is not None else {}, params=_clean(params))
        return answer.json() if answer.content else {}

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()

    def delete(self, path: str, **params: Any) -> Any:
        answer = self.request("DELETE", path, params=_clean(params))
        return answer.json() if answer.content else {}

    def pages(self, path: str, key: str, per_page: int = 200, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list, page after page through the API's cursors."""
        query = _clean({**params, "per_page": per_page})
        while True:
            body = self.request("GET", path, params=query).json()
            yield from body.get(key) or []
            cursor = body.get("next_cursor")
            if not cursor:
                return
            query = {**_clean(params), "per_page": per_page, "cursor": cursor}

    def file_url(self, task_id: str) -> str:
        """The presigned URL the API redirects ``/downloads/{id}/file`` to."""
        answer = self.request("GET", f"/downloads/{task_id}/file", follow_redirects=False)
        location = answer.headers.get("Location")
        if answer.status_code not in (301, 302, 303, 307) or not location:
            raise CliError(f"expected a redirect to the stored file, got HTTP {answer.status_code}", SERVER,
                           request_id=answer.headers.get("X-Request-Id"))
        return location

    # -- the WebSocket endpoint ------------------------------------------------------------
    def ws_url(self) -> str:
        """--ws-url / HAUL_WS_URL, else what was stored at login, else what the server says
        (``websocket_url`` in ``GET /health``), else the local runtime's default address
        (the API's port + 1, path = the stage)."""
        if self._ws_url:
            return self._ws_url
        if self.creds.ws_url:
            return self.creds.ws_url
        return self.discover_ws_url()

    def discover_ws_url(self) -> str:
        health = self.request("GET", "/health", auth=False).json()
        found = health.get("websocket_url") if isinstance(health, dict) else None
        if isinstance(found, str) and found:
            return found
        parts = urlsplit(self.url)
        stage = str(health.get("stage") or "local") if isinstance(health, dict) else "local"
        port = (parts.port or (443 if parts.scheme == "https" else 80)) + 1
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, f"{parts.hostname}:{port}", f"/{stage}", "", ""))


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None and v != [] and v != ""}
