"""What every REST handler shares: JSON in and out, the error envelope, the request id, and
who the caller is.

``route()`` registers a handler and records it in the route table the OpenAPI document is
made from (chalicelib/api/openapi.py). Each route states the least role it needs (``role=None``:
public). The caller is resolved once per request, from ``Authorization: Bearer <access
token>`` or ``X-API-Key: <key>``, into an :class:`~chalicelib.auth.identity.Identity`;
handlers read it with :func:`caller`. Every authenticated request counts against the user's
rate limit, whose state every answer carries in ``X-RateLimit-*`` headers.

Every answer also says what it cost the server in a standard ``Server-Timing`` header
(W3C Server Timing): ``auth`` (resolving the caller and the rate limit), ``handler`` (the
route's own work) and ``total`` (both, with the error envelope), in milliseconds measured
inside the function, so the client's own time and the HTTP layer's are not in it
(bench/everyday.py reports it next to the time at the client).
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request
from pydantic import BaseModel

from chalicelib.api.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    Internal,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
)
from chalicelib.api.openapi import Operation
from chalicelib.auth.identity import Identity, Role
from chalicelib.container import services

log = logging.getLogger("haul.http")
MAX_BODY = 256 * 1024

Handler = Callable[..., Any]
# Bodies are parsed as JSON whatever the client called them (curl -d sends a form type).
ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]
PUBLIC = None
# The owner an anonymous WebSocket connection acts as (allowed on the functional tests' stage
# only, functions/websocket/handlers.py): no user has this id, so it owns nothing.
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
    return who


def maybe_caller(request: Request) -> Identity | None:
    return getattr(request, _IDENTITY, None)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def _accounts() -> Any:

    return services().accounts


def _identify(request: Request, required: bool) -> Identity | None:
    headers: Any = request.headers or {}
    authorization, api_key = headers.get("authorization"), headers.get("x-api-key")
    if not required:
        # A public route reads credentials when they are good, and ignores them otherwise.
        try:
            return _accounts().resolve(authorization, api_key) if (authorization or api_key) else None
        except ApiError:
            return None
    who = _accounts().resolve(authorization, api_key)
    if who is None:
        raise Unauthenticated("this needs an access token (Authorization: Bearer ...) or an API key (X-API-Key)")
    return who


# Its keyword-only options are the route table's columns (the OpenAPI entry of the route).
def route(  # noqa: PLR0913
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
    also: dict[int, str] | None = None,
) -> Callable[[Handler], Handler]:
    """Register a handler that receives the request; errors become the envelope.

    ``role`` is the least role the route needs (``PUBLIC``: none); the other arguments
    describe the route in the OpenAPI document. ``also``: other success statuses (status ->
    description) answered with the same body, e.g. 200 next to 201 for an add that found a
    duplicate.
    """

    def decorate(fn: Handler) -> Handler:
        for method in methods:
            ROUTES.append(Operation(
                path=path, method=method, name=fn.__name__,
                summary=summary or (fn.__doc__ or fn.__name__).strip().splitlines()[0],
                tag=tag, role=role.value if role else None, body=body, query=query, response=response,
                status=status, errors=tuple(errors), content_type=content_type, headers=dict(headers or {}),
                also=dict(also or {}),
            ))

        @functools.wraps(fn)
        def view(**params: Any) -> Response:
            began = time.perf_counter()
            request = bp.current_request
            rid = request_id(request)
            limits: dict[str, str] = {}
            identified = began
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
                identified = time.perf_counter()
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
            result.headers["Server-Timing"] = server_timing(began, identified, time.perf_counter())
            return result

        bp.route(path, methods=methods, cors=True, content_types=ACCEPTED_TYPES)(view)
        return fn

    return decorate


def server_timing(began: float, identified: float, ended: float) -> str:
    """The ``Server-Timing`` value of an answer: ``auth``, ``handler`` and ``total`` in ms
    (``identified``: when the caller was known; ``began`` when the request failed before)."""
    identified = max(began, identified)
    return (f"auth;dur={(identified - began) * 1000:.1f}, handler;dur={(ended - identified) * 1000:.1f}, "
            f"total;dur={(ended - began) * 1000:.1f}")


# -- pagination: body fields and the X-Total-Count / Link headers (RFC 8288) ------------------

PAGINATION_HEADERS = {
    "X-Total-Count": "items in the whole list (with the filters applied)",
    "Link": 'RFC 8288 links: rel="first", "prev", "next" (with a cursor), "last"',
}


def _link_base(request: Request) -> str:
    """The absolute URL of this request's path, from its Host header (relative without one)."""
    headers: Any = request.headers or {}
    context = getattr(request, "context", None) or {}
    path = str(context.get("path") or "") or "/api/v1" + str(context.get("resourcePath") or "")
    host = headers.get("host")
    if not host:
        return path
    proto = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    return f"{proto}://{host}{path}"


def page_links(
    request: Request, *, total: int | None, page: int, per_page: int, next_cursor: str | None, paged: bool = True,
) -> str:
    """The ``Link`` header of a page: absolute URLs of this path keeping the request's other
    query parameters. ``first``; ``prev`` (page - 1, walked from the start); ``next`` (the
    cursor, plus ``page=N+1`` for the body's page number: deep pages are reached this way,
    in O(page)); ``last`` when the total is known (lists read the last page backwards).
    ``paged=False``: a list with a cursor and no ``page`` parameter (``first`` and ``next``)."""
    from urllib.parse import urlencode

    base = _link_base(request)
    kept = {k: v for k, v in query(request).items() if k not in ("page", "cursor")}

    def url(**extra: Any) -> str:
        params = urlencode({**kept, **{k: str(v) for k, v in extra.items()}})
        return f"{base}?{params}" if params else base

    if not paged:  # a cursor-only list: first and next
        links = [f'<{url()}>; rel="first"']
        if next_cursor:
            links.append(f'<{url(cursor=next_cursor)}>; rel="next"')
        return ", ".join(links)
    links = [f'<{url(page=1, per_page=per_page)}>; rel="first"']
    if page > 1:
        links.append(f'<{url(page=page - 1, per_page=per_page)}>; rel="prev"')
    if next_cursor:
        links.append(f'<{url(page=page + 1, per_page=per_page, cursor=next_cursor)}>; rel="next"')
    if total is not None:
        links.append(f'<{url(page=max(1, -(-total // per_page)), per_page=per_page)}>; rel="last"')
    return ", ".join(links)


def pagination_headers(
    request: Request, *, total: int | None, page: int = 1, per_page: int, next_cursor: str | None,
    paged: bool = True,
) -> dict[str, str]:
    """``X-Total-Count`` (when the total is known) and ``Link`` for a page of a list (see
    :func:`page_links`; lists answered with :func:`paginated` get both already)."""
    out = {"Link": page_links(request, total=total, page=page, per_page=per_page, next_cursor=next_cursor,
                              paged=paged)}
    if total is not None:
        out["X-Total-Count"] = str(total)
    return out


def paginated(
    request: Request, key: str, items: list[Any], *, total: int, page: int = 1, per_page: int,
    next_cursor: str | None, extra: dict[str, Any] | None = None, status: int = 200,
) -> Response:
    """The answer of a paginated list, the same for every list of the API.

    Body: ``{<key>: items, "total", "page", "per_page", "pages", "next_cursor", **extra}``;
    headers: ``X-Total-Count`` and ``Link`` (``first``/``prev``/``next``/``last``, absolute
    URLs built from the request's Host header and path, keeping its other query parameters;
    ``next`` carries ``cursor=<next_cursor>``). Declare ``headers=PAGINATION_HEADERS`` on the
    route, and a response model with these fields. Example::

        return paginated(request, "batches", views, total=n, page=q.page, per_page=q.per_page,
                         next_cursor=cursor)
    """
    body = {
        key: items,
        "total": total,
        "page": page,
        "per_page": per_page,
        "pages": -(-total // per_page) if total else 0,
        "next_cursor": next_cursor,
        **(extra or {}),
    }
    headers = pagination_headers(request, total=total, page=page, per_page=per_page, next_cursor=next_cursor)
    return respond(body, status, headers)
