"""The emulator answers AWS's JSON-protocol requests without Flask (emulator performance).

moto's server is a werkzeug WSGI application that picks a Flask app per service, and each
Flask app routes the request to one view (``convert_to_flask_response``: moto's handler
called with the request, its URL and headers; its ``(status, headers, body)`` made a
``Response``). Around that view Flask pushes an application and a request context, binds the
URL map, runs moto's ``before_request`` (a gzip check) and flask-cors' ``after_request``, and
finalises the response: about a third of the emulator's CPU for a GetItem, on every DynamoDB,
DynamoDB Streams and SQS request (docs/performance.md).

Here a request of the JSON protocols (a ``POST /`` with ``X-Amz-Target``, as botocore sends
DynamoDB, DynamoDB Streams and SQS) goes to the same view's handler directly: the same
request class, moto's request recorder, the same handler, the same ``Response`` from its
answer (a ``ClientError`` is a 400 with its message, as in moto's view). Anything else keeps
Flask's way: S3 and other REST requests, a compressed body (the gzip check), a request with
an ``Origin`` (a browser: CORS headers), a path other than ``/``. A handler that raises is
logged and answered 500, as Flask does.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger("moto")  # Flask logs a view's exception on the app's logger, "moto"
_views: dict[int, Any] = {}  # id(Flask app) -> moto's view for "POST /", or None
_views_lock = threading.Lock()


def _root_view(app: Any) -> Any:
    """The ``convert_to_flask_response`` view ``app`` routes ``POST /`` to (None: not one)."""
    from moto.core.utils import convert_to_flask_response
    from werkzeug.exceptions import HTTPException

    key = id(app)
    found = _views.get(key, False)
    if found is not False:
        return found
    view = None
    try:
        endpoint, _ = app.url_map.bind("localhost").match("/", method="POST")
        candidate = app.view_functions.get(endpoint)
        if isinstance(candidate, convert_to_flask_response):
            view = candidate
    except HTTPException:  # no rule for "POST /" (a REST service): Flask's way
        view = None
    with _views_lock:
        _views[key] = view
    return view


def _direct(environ: dict[str, Any]) -> bool:
    return (
        "HTTP_X_AMZ_TARGET" in environ
        and environ.get("REQUEST_METHOD") == "POST"
        and environ.get("PATH_INFO") in ("/", "")
        and "HTTP_ORIGIN" not in environ
        and not environ.get("HTTP_CONTENT_ENCODING")
    )


def _without_flask(original: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """``DomainDispatcherApplication.__call__``: JSON-protocol requests to their handler."""
    from botocore.exceptions import ClientError
    from flask import Request, Response
    from moto.moto_api import recorder
    from moto.settings import DISABLE_GLOBAL_CORS
    from werkzeug.exceptions import InternalServerError

    cors = not DISABLE_GLOBAL_CORS

    @functools.wraps(original)
    def call(self: Any, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if not _direct(environ):
            return original(self, environ, start_response)
        app = self.get_application(environ)
        view = _root_view(app)
        if view is None or app.service == "s3":
            return original(self, environ, start_response)
        request = Request(environ)
        recorder._record_request(request)
        try:
            result = view.callback(request, request.url, dict(request.headers))
        except ClientError as exc:
            result = 400, {}, exc.response["Error"]["Message"]
        except Exception:
            # What Flask does with a view that raises (not in debug mode, see wsgi.py): log it,
            # answer 500.
            log.exception("Exception on %s [%s]", request.path, request.method)
            result = None
        if result is None:
            response = InternalServerError().get_response(environ)
        else:
            status, headers, content = result if len(result) == 3 else (200, {}, result)
            response = Response(response=content, status=status, headers=headers)
        if cors and "Access-Control-Allow-Origin" not in response.headers:
            # What flask-cors' after_request adds to a request without an Origin (moto's CORS(app)).
            response.headers["Access-Control-Allow-Origin"] = "*"
        return response(environ, start_response)

    return call


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch()."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    return [(DomainDispatcherApplication, "__call__", _without_flask)]
