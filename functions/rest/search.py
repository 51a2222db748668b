"""Smart search and smart grab (issue #18): a TMDB season, candidates from your feeds and the
configured indexers, the best file per episode in one batch. The logic is in chalicelib/search/
(docs/metadata.md)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.search.schemas import SmartGrab, SmartGrabAnswer, SmartSearch, SmartSearchAnswer

from .http import caller, json_body, route

blueprint = Blueprint(__name__)
TAG = "metadata"


@route(blueprint, "/search/smart", ["POST"], tag=TAG, body=SmartSearch, response=SmartSearchAnswer,
       errors=[404, 502, 503])
def smart_search(request: Request) -> dict[str, Any]:
    """Look a season (or film) up in TMDB and find candidate files in your feeds and the indexers,
    grouped by episode."""
    return services().search.search(caller(request), json_body(request))


@route(blueprint, "/search/smart-grab", ["POST"], role=Role.USER, tag=TAG, body=SmartGrab, response=SmartGrabAnswer,
       status=201, errors=[404, 502, 503])
def smart_grab(request: Request) -> dict[str, Any]:
    """Pick the best file per episode by the quality preference and add them as one batch with their metadata."""
    return services().search.grab(caller(request), json_body(request))
