"""The first-run setup wizard (chalicelib/setup/): open before the first admin exists, 403 after."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.errors import ApiError
from chalicelib.api.schemas import parse
from chalicelib.container import services
from chalicelib.setup.models import Complete, TestFeed, TestNotification

from .http import PUBLIC, json_body, respond, route

blueprint = Blueprint(__name__)


def _token(request: Request) -> str | None:
    """The deployed stage's one-time setup token: the X-Setup-Token header or the body's setup_token."""
    headers: Any = request.headers or {}
    if headers.get("x-setup-token"):
        return str(headers["x-setup-token"])
    try:
        body = json_body(request)
    except ApiError:
        return None
    token = body.get("setup_token") if isinstance(body, dict) else None
    return token if isinstance(token, str) else None


@route(blueprint, "/setup/status", ["GET"], role=PUBLIC, tag="setup")
def setup_status(request: Request) -> dict[str, Any]:
    """What a fresh install still needs: the first admin, storage, a test download, optionally a feed and a
    notification (`open` is false once an admin exists)."""
    return services().setup.status()


@route(blueprint, "/setup/test-feed", ["POST"], role=PUBLIC, body=TestFeed, errors=[403], tag="setup")
def setup_test_feed(request: Request) -> dict[str, Any]:
    """Read a feed (nothing is stored): its title, item count and a few titles. Before the first admin only."""
    services().setup.gate(_token(request))  # closed (403) before anything is read
    return services().setup.test_feed(parse(TestFeed, json_body(request)), _token(request))


@route(blueprint, "/setup/test-notification", ["POST"], role=PUBLIC, body=TestNotification, errors=[403],
       tag="setup")
def setup_test_notification(request: Request) -> dict[str, Any]:
    """Send a test message to a webhook or Apprise URL (nothing is stored) and answer what the service said.
    Before the first admin only."""
    services().setup.gate(_token(request))
    return services().setup.test_notification(parse(TestNotification, json_body(request)), _token(request))


@route(blueprint, "/setup/complete", ["POST"], role=PUBLIC, body=Complete, status=201, errors=[403],
       tag="setup")
def setup_complete(request: Request) -> Response:
    """Create the first admin and log them in (as POST /auth/setup); every setup route answers 403 afterwards."""
    services().setup.gate(_token(request))
    return respond(services().setup.complete(parse(Complete, json_body(request)), _token(request)), 201)
