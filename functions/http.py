"""What every REST handler shares: JSON in and out, the error envelope, the request id, and
who the caller is.

``route()`` registers a handler and records it in the route table the OpenAPI document is
made from (chalicelib/openapi.py). Each route states the least role it needs (``role=None``:
public). The caller is resolved once per request, from ``Authorization: Bearer <access
token>`` or ``X-API-Key: <key>``, into an :class:`~chalicelib.auth.identity.Identity`;
handlers read it with :func:`caller`. Every authenticated request counts against the user's
rate limit, whose state every answer carries in ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel

from chalicelib.auth.identity import Identity, Role
from chalicelib.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    Internal,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
)
from chalicelib.openapi import Operation

log = logging.getLogger("haul.http")
MAX_BODY = 256 * 1024

Handler = Callable[..., Any]
# Bodies are parsed as JSON whatever the client called them (curl -d sends a form type).
ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
PUBLIC = None
# The owner an anonymous WebSocket connection acts as (allowed on the functional tests' stage
# only, functions/websocket.py): no user has this id, so it owns nothing.
LOCAL_OWNER = "local"
# The route table: one Operation per method and path, in registration order.
ROUTES: list[Operation] = []
_IDENTITY = "haul_identity"


def request_id(request: Request | None) -> str:
    context = getattr(request, "context", None) or {}
    return str(context.get("requestId") or uuid.uuid4())


def json_body(request: Request) -> Any:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge(f"the body is larger than {MAX_BODY} bytes")
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("the body is not valid JSON: it is nested too deeply") from None


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params or {})


def client_address(request: Request) -> str:
    context = getattr(request, "context", None) or {}
    return str((context.get("identity") or {}).get("sourceIp") or "unknown")


def caller(request: Request) -> Identity:
    """Who is calling (a route that is not public always has one)."""
    who = getattr(request, _IDENTITY, None)
    if who is None:
        raise Unauthenticated("this needs an access token (Authorization: Bearer ...) or an API key (X-API-Key)")
    return who  # type: ignore[no-any-return]


def maybe_caller(request: Request) -> Identity | None:
    return getattr(request, _IDENTITY, None)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def _accounts() -> Any:
    from chalicelib.container import services

    return services().accounts


def _identify(request: Request, required: bool) -> Identity | None:
    headers: Any = request.headers or {}
    authorization, api_key = headers.get("authorization"), headers.get("x-api-key")
    if not required:
        # A public route reads credentials when they are good, and ignores them otherwise.
        try:
            return _accounts().resolve(authorization, api_key) if (authorization or api_key) else None  # type: ignore[no-any-return]
        except ApiError:
            return None
    who = _accounts().resolve(authorization, api_key)
    if who is None:
        raise Unauthenticated("this needs an access token (Authorization: Bearer ...) or an API key (X-API-Key)")
    return who  # type: ignore[no-any-return]


def route(
    bp: Blueprint,
    path: str,
    methods: list[str],
    *,
    role: Role | None = Role.VIEWER,
    summary: str = "",
    tag: str = "downloads",
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: type[BaseModel] | None = None,
    status: int = 200,
    errors: Iterable[int] = (),
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler that receives the request; errors become the envelope.

    ``role`` is the least role the route needs (``PUBLIC``: none); the other arguments
    describe the route in the OpenAPI document.
    """

    def decorate(fn: Handler) -> Handler:
        for method in methods:
            ROUTES.append(Operation(
                path=path, method=method, name=fn.__name__,
                summary=summary or (fn.__doc__ or fn.__name__).strip().splitlines()[0],
                tag=tag, role=role.value if role else None, body=body, query=query, response=response,
                status=status, errors=tuple(errors), content_type=content_type, headers=dict(headers or {}),
            ))

        @functools.wraps(fn)
        def view(**params: Any) -> Response:
            request = bp.current_request
            rid = request_id(request)
            limits: dict[str, str] = {}
            try:
                who = _identify(request, required=role is not None)
                if role is not None and who is not None:
                    verdict = _accounts().rate(who)
                    if verdict is not None:
                        limits = verdict.headers()
                        if not verdict.allowed:
                            raise TooManyRequests(
                                f"more than {verdict.limit} requests in a minute; try again in {verdict.retry_after} s",
                                verdict.retry_after,
                            )
                    if not who.at_least(role):
                        raise Forbidden(f"this needs the role {role.value} or above; you are {who.role.value}")
                setattr(request, _IDENTITY, who)
                result = fn(request, **params)
            except ApiError as exc:
                result = respond(exc.body(rid), exc.status, exc.headers)
            except Exception:
                log.exception("request %s failed", rid)
                err = Internal("something went wrong on our side; the request id helps find it")
                result = respond(err.body(rid), err.status)
            if not isinstance(result, Response):
                result = respond(result, status)
            result.headers.update(limits)
            result.headers["X-Request-Id"] = rid
            return result

        bp.route(path, methods=methods, cors=True, content_types=ACCEPTED_TYPES)(view)
        return fn

    return decorate
