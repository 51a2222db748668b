"""The two HTML pages (the app at ``/``, the API docs at ``/api/v1/docs``): where they are,
where the WebSocket is, and the headers that lock them down.

Pure functions: functions/rest/webapp.py and functions/rest/docs.py pass in the request's path, host
and the configuration.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit, urlunsplit

from .assets import AssetSet

API_PREFIX = "api/v1"


def base_path(request_path: str, route_path: str) -> str:
    """The path the app is mounted at, ending in '/': '/' locally, '/api/' behind an API
    Gateway stage named api. ``request_path`` is the full path of the request (with the
    stage), ``route_path`` the route's own path ('/' or '/api/v1/docs')."""
    path = request_path or "/"
    route = route_path.rstrip("/")
    if route and path.rstrip("/").endswith(route):
        path = path.rstrip("/")[: -len(route)]
    return path.rstrip("/") + "/"


def websocket_url(*, public_url: str | None, api_id: str | None, region: str, ws_stage: str,
                  endpoint: str | None, host: str | None) -> str | None:
    """Where the page's WebSocket connects (docs/websocket.md), or None when there is none.

    An explicit public URL wins; on AWS the WebSocket API's own domain; locally the gateway's
    management endpoint with a ws scheme, on the host name the browser used for the page (so a
    phone on the LAN that opened http://192.168.1.5:8000/ connects to 192.168.1.5 too)."""
    if public_url:
        return public_url
    if api_id:
        return f"wss://{api_id}.execute-api.{region}.amazonaws.com/{ws_stage}"
    if not endpoint:
        return None
    parts = urlsplit(endpoint)
    scheme = "wss" if parts.scheme == "https" else "ws"
    netloc = parts.netloc
    if host:
        name = re.sub(r":\d+$", "", host.strip())
        netloc = f"{name}:{parts.port}" if parts.port else name
    return urlunsplit((scheme, netloc, parts.path, "", ""))


def csp(ws_url: str | None, *, docs: bool = False) -> str:
    """A strict policy: scripts, styles, fonts and images from this origin only (no inline
    code, no eval); connections to this origin and the WebSocket's."""
    connect = "'self'"
    if ws_url:
        parts = urlsplit(ws_url)
        connect += f" {parts.scheme}://{parts.netloc}"
    images = "'self' data:" if docs else "'self'"
    return (f"default-src 'none'; script-src 'self'; style-src 'self'; img-src {images}; font-src 'self'; "
            f"connect-src {connect}; manifest-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'")


def headers(policy: str) -> dict[str, str | list[str]]:
    return {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": policy,
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


def render(assets: AssetSet, template: str, base: str, ws_url: str | None) -> str:
    """A page template with its placeholders filled in (every value HTML-escaped)."""
    values = {
        "base": base,
        "api": f"{base}{API_PREFIX}",
        "static": assets.url(base, ""),
        "ws": ws_url or "",
        "version": assets.version,
    }
    text = assets.templates[template]
    return re.sub(r"\{\{(\w+)\}\}", lambda m: html.escape(values[m.group(1)], quote=True), text)
