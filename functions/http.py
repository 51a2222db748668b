"""What every REST handler shares: JSON in and out, the error envelope, the request id."""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.errors import ApiError, BadRequest, Internal, PayloadTooLarge

log = logging.getLogger("haul.http")
MAX_BODY = 256 * 1024
# Until accounts exist every caller acts as this one local owner.
LOCAL_OWNER = "local"

Handler = Callable[..., Any]
# Bodies are parsed as JSON whatever the client called them (curl -d sends a form type).
ACCEPTED_TYPES = ["application/json", "text/plain", "application/x-www-form-urlencoded"]


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


def owner(request: Request) -> str:
    return LOCAL_OWNER


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body=body, status_code=status, headers={"Content-Type": "application/json", **(headers or {})})


def route(bp: Blueprint, path: str, methods: list[str]) -> Callable[[Handler], Handler]:
    """Register a handler that receives the request; errors become the envelope."""

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def view(**params: Any) -> Response:
            request = bp.current_request
            rid = request_id(request)
            try:
                result = fn(request, **params)
            except ApiError as exc:
                result = respond(exc.body(rid), exc.status)
            except Exception:
                log.exception("request %s failed", rid)
                err = Internal("something went wrong on our side; the request id helps find it")
                result = respond(err.body(rid), err.status)
            if not isinstance(result, Response):
                result = respond(result)
            result.headers["X-Request-Id"] = rid
            return result

        bp.route(path, methods=methods, cors=True, content_types=ACCEPTED_TYPES)(view)
        return fn

    return decorate
