"""The web app: its page at ``/`` and its static files at ``/static/<version>/<name>``.

Served by the same Chalice app as the API, so the page works unchanged behind API Gateway
(text bodies with their content types) and on the local runtime. The logic lives in
chalicelib/webapp/; docs/webapp.md describes the app.
"""

from __future__ import annotations

import os
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.config import Config
from chalicelib.webapp import page
from chalicelib.webapp.assets import LONG_CACHE, assets

blueprint = Blueprint(__name__)


def websocket_url(request: Request) -> str | None:
    """Where clients connect for live updates (the page; other clients read it from GET /health)."""
    headers: Any = request.headers or {}
    config = Config.from_env()
    return page.websocket_url(
        public_url=os.environ.get("HAUL_WS_PUBLIC_URL") or None, api_id=config.ws_api_id, region=config.region,
        ws_stage=config.ws_stage, endpoint=config.ws_endpoint, host=headers.get("host"),
    )


def page_context(request: Request, route_path: str) -> tuple[str, str | None]:
    """The page's base path and its WebSocket URL, from the request and the configuration."""
    context = getattr(request, "context", None) or {}
    return page.base_path(str(context.get("path") or route_path), route_path), websocket_url(request)


@blueprint.route("/", methods=["GET"])
def index() -> Response:
    """The single-page app (its views come as ES modules from /static/)."""
    base, ws = page_context(blueprint.current_request, "/")
    body = page.render(assets(), "index.html", base, ws)
    return Response(body=body, status_code=200, headers=page.headers(page.csp(ws)))


@blueprint.route("/static/{version}/{name}", methods=["GET"])
def static(version: str, name: str) -> Response:
    """One static file of one version, cached for a year (the version is a content hash)."""
    asset = assets().get(version, name)
    if asset is None:
        body = {"error": {"code": "NOT_FOUND", "message": "no such file in this version of the app; reload the page",
                          "details": [], "request_id": ""}}
        return Response(body=body, status_code=404, headers={"Content-Type": "application/json",
                                                              "Cache-Control": "no-store"})
    return Response(body=asset.body, status_code=200, headers={
        "Content-Type": asset.content_type, "Cache-Control": LONG_CACHE, "X-Content-Type-Options": "nosniff",
    })
