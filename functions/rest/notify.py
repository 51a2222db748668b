"""Notifications: the REST routes (chalicelib/notify/). Wiring only. The notify queue's consumer
is functions/queues/notify.py, the tasks stream's consumer functions/streams/notify.py."""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.notify.events import SUBSCRIBABLE
from chalicelib.notify.models import CreateTarget, DeliveryQuery, PatchTarget, SendMessage
from chalicelib.notify.service import NotifyService

from .http import PAGINATION_HEADERS, caller, json_body, paginated, query, respond, route

blueprint = Blueprint(__name__)
log = logging.getLogger("haul.notify")


def _notify() -> NotifyService:
    return services().notify


@route(blueprint, "/notifications/events", ["GET"], tag="notifications")
def notification_events(request: Request) -> dict[str, Any]:
    """The events a target may subscribe to."""
    return {"events": [e.value for e in SUBSCRIBABLE]}


@route(blueprint, "/notifications/targets", ["POST"], role=Role.USER, body=CreateTarget, status=201,
       errors=[409], tag="notifications")
def create_target(request: Request) -> dict[str, Any]:
    """Add a target: `kind` webhook (a URL, optional `secret` for HMAC-SHA256 signatures and `headers`) or
    apprise (an Apprise URL: tgram://, discord://, ntfy://, gotify://, mailto://, slack://, json:// ...), and
    the `events` it wants. The URL's credentials, the secret and header values are never shown again."""
    return _notify().create(caller(request), parse(CreateTarget, json_body(request))).view()


@route(blueprint, "/notifications/targets", ["GET"], tag="notifications")
def list_targets(request: Request) -> dict[str, Any]:
    """Your targets (admins: `owner`'s)."""
    targets = _notify().visible(caller(request), query(request).get("owner"))
    return {"targets": [t.view() for t in targets], "total": len(targets)}


@route(blueprint, "/notifications/targets/{target_id}", ["GET"], errors=[404], tag="notifications")
def get_target(request: Request, target_id: str) -> dict[str, Any]:
    """One target (never its secrets)."""
    return _notify().get(caller(request), target_id).view()


@route(blueprint, "/notifications/targets/{target_id}", ["PATCH"], role=Role.USER, body=PatchTarget,
       errors=[404, 409], tag="notifications")
def patch_target(request: Request, target_id: str) -> dict[str, Any]:
    """Change a target: name, url, secret ("" removes it), headers, events, enabled."""
    return _notify().patch(caller(request), target_id, parse(PatchTarget, json_body(request))).view()


@route(blueprint, "/notifications/targets/{target_id}", ["DELETE"], role=Role.USER, status=204, content_type="",
       errors=[404], tag="notifications")
def delete_target(request: Request, target_id: str) -> Response:
    """Delete a target."""
    _notify().delete(caller(request), target_id)
    return Response(body="", status_code=204)


@route(blueprint, "/notifications/targets/{target_id}/test", ["POST"], role=Role.USER, errors=[404],
       tag="notifications")
def test_target(request: Request, target_id: str) -> dict[str, Any]:
    """Send a test message now: `ok`, the HTTP `status` (webhooks) and what the service answered."""
    return _notify().test(caller(request), target_id)


@route(blueprint, "/notifications/send", ["POST"], role=Role.ADMIN, body=SendMessage, status=202, errors=[404],
       tag="notifications")
def send_notification(request: Request) -> Response:
    """Send a message to chosen targets (anyone's): queued, one delivery each."""
    queued = _notify().send(caller(request), parse(SendMessage, json_body(request)))
    return respond({"deliveries": [d.view() for d in queued]}, 202)


@route(blueprint, "/notifications/deliveries", ["GET"], query=DeliveryQuery, headers=PAGINATION_HEADERS,
       tag="notifications")
def list_deliveries(request: Request) -> Response:
    """Deliveries, newest first, with status (pending, retrying, delivered, failed), attempts and the last
    error: yours (admins: everyone's); filters status, target_id, event, since."""
    q = parse(DeliveryQuery, query(request), "query")
    items, total, cursor = _notify().list_deliveries(caller(request), q)
    return paginated(request, "deliveries", [d.view() for d in items], total=total, per_page=q.per_page,
                     next_cursor=cursor)
