"""The API's own description: the OpenAPI document and an interactive page that reads it.

The page is Swagger UI (vendored from the npm registry, chalicelib/webapp/vendor/) served
from this origin under the web app's strict Content-Security-Policy; a login form above it
authorizes "Try it out" with a token.
"""

from __future__ import annotations

import functools
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.openapi import document
from chalicelib.webapp import page
from chalicelib.webapp.assets import assets

from .downloads import VERSION
from .http import PUBLIC, ROUTES, route
from .webapp import page_context

blueprint = Blueprint(__name__)


@functools.cache
def openapi() -> dict[str, Any]:
    """The document (made once per process: the route table does not change while it runs)."""
    return document(ROUTES, VERSION)


@route(blueprint, "/openapi.json", ["GET"], role=PUBLIC, tag="meta", content_type="application/json")
def openapi_json(request: Request) -> dict[str, Any]:
    """This API's OpenAPI 3.1 document."""
    return openapi()


@route(blueprint, "/docs", ["GET"], role=PUBLIC, tag="meta", content_type="text/html")
def docs_page(request: Request) -> Response:
    """Interactive documentation (Swagger UI): every operation, with log-in and try-it-out."""
    base, ws = page_context(request, "/api/v1/docs")
    body = page.render(assets(), "docs.html", base, ws)
    return Response(body=body, status_code=200, headers=page.headers(page.csp(ws, docs=True)))
