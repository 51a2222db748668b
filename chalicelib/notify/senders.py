"""Sending one message to one target: a signed JSON webhook, or any service Apprise knows.

Webhooks go out through the engine's pinned HTTP session (chalicelib/adapters/safehttp.py): on a
deployed stage the address connected to is the one the URL guard checked. Apprise makes its
own connections; for the schemes whose host the user chooses (``json://``, ``ntfy://host``,
``gotify://`` ...) the host is checked with the same guard first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import apprise
import requests

from ..adapters.urlguard import BlockedUrl, UrlGuard
from ..domain.clock import SYSTEM_CLOCK, Clock
from . import signing

log = logging.getLogger("haul.notify")
TIMEOUT = (5, 10)
MAX_DETAIL = 500
# Apprise schemes that name a host of the user's choosing (self-hosted services, generic
# HTTP): their host goes through the URL guard. The others talk to their service's own
# public endpoint.
SELF_HOSTED = frozenset({
    "json", "jsons", "xml", "xmls", "form", "forms", "ntfy", "ntfys", "gotify", "gotifys", "apprise", "apprises",
    "matrix", "matrixs", "mmost", "mmosts", "rocket", "rockets", "nctalk", "nctalks", "ncloud", "nclouds",
    "mqtt", "mqtts", "kodi", "kodis", "xbmc", "xbmcs", "emby", "embys", "hassio", "hassios", "synology",
    "synologys", "signal", "signals", "mastodon", "mastodons", "misskey", "misskeys",
    "bark", "barks", "lametric", "lametrics", "home", "homes", "opsgenie", "workflow", "workflows",
})


@dataclass(frozen=True)
class SendResult:
    ok: bool
    status: int | None  # the HTTP status a webhook answered
    detail: str  # what the service said (a webhook's answer, Apprise's log lines), shortened
    retry_after: float | None = None


class BadTarget(ValueError):
    """A target URL that cannot be used; the message says why."""


def check_webhook_url(url: str, guard: UrlGuard) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in 0..65535
    except ValueError as exc:
        raise BadTarget(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise BadTarget("a webhook URL is an absolute http:// or https:// URL")
    try:
        guard.check(url)
    except BlockedUrl as exc:
        raise BadTarget(str(exc)) from None


def apprise_plugin(url: str) -> Any:
    plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    if plugin is None:
        raise BadTarget("Apprise does not understand this URL (see its list of services: tgram://, discord://, "
                        "ntfy://, gotify://, mailto://, slack://, json:// ...)")
    return plugin


def check_apprise_url(url: str, guard: UrlGuard) -> None:
    plugin = apprise_plugin(url)
    scheme = urlsplit(url).scheme.lower()
    host = getattr(plugin, "host", None)
    if scheme in SELF_HOSTED and host:
        port = getattr(plugin, "port", None)
        web = "https" if getattr(plugin, "secure", False) else "http"
        try:
            guard.check(f"{web}://{host}:{port}/" if port else f"{web}://{host}/")
        except (BlockedUrl, ValueError) as exc:
            raise BadTarget(str(exc)) from None


def display_url(kind: str, url: str) -> str:
    """The URL as GET shows it: scheme and host (self-hosted or webhook), never a path,
    query or credentials (they often hold tokens)."""
    parts = urlsplit(url)
    if kind == "webhook" or parts.scheme.lower() in SELF_HOSTED:
        host = parts.hostname or ""
        try:
            port = f":{parts.port}" if parts.port else ""
        except ValueError:
            port = ""
        return f"{parts.scheme}://{host}{port}/…"
    return f"{parts.scheme}://…"


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


class Senders:
    def __init__(self, session: requests.Session, guard: UrlGuard, clock: Clock = SYSTEM_CLOCK) -> None:
        self.clock = clock
        self.session = session
        self.guard = guard

    def webhook(self, url: str, secret: str | None, headers: dict[str, str], delivery_id: str, event: str,
                payload: bytes) -> SendResult:
        sent = {**headers, "Content-Type": "application/json", signing.EVENT_HEADER: event,
                signing.DELIVERY_HEADER: delivery_id}
        if secret:
            sent[signing.SIGNATURE_HEADER] = signing.signature(secret, self.clock.now_ms() // 1000, payload)
        try:
            check_webhook_url(url, self.guard)
            resp = self.session.post(url, data=payload, headers=sent, timeout=TIMEOUT, allow_redirects=False)
        except BadTarget as exc:
            return SendResult(False, None, _short(str(exc)))
        except requests.RequestException as exc:
            return SendResult(False, None, _short(f"{type(exc).__name__}: {exc}"))
        try:
            text = resp.text[:MAX_DETAIL]
        finally:
            resp.close()
        retry_after = None
        if resp.headers.get("retry-after", "").isdigit():
            retry_after = float(resp.headers["retry-after"])
        return SendResult(200 <= resp.status_code < 300, resp.status_code, _short(f"HTTP {resp.status_code} {text}"),
                          retry_after)

    def apprise(self, url: str, title: str, message: str) -> SendResult:
        try:
            check_apprise_url(url, self.guard)
        except (BadTarget, BlockedUrl) as exc:
            return SendResult(False, None, _short(str(exc)))
        box = apprise.Apprise()
        if not box.add(url):
            return SendResult(False, None, "Apprise does not understand this URL")
        with apprise.LogCapture(level=logging.INFO) as captured:
            ok = bool(box.notify(title=title, body=message))
        lines = [line.split(" - ", 2)[-1] for line in str(captured.getvalue()).splitlines() if line.strip()]
        return SendResult(ok, None, _short("; ".join(lines) or ("sent" if ok else "not sent")))
