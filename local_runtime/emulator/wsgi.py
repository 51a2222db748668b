"""The emulator's HTTP server reads a request body in one go (emulator performance).

moto's server is werkzeug's. werkzeug 3.1 reads a whole body (``request.data``, which moto's
S3 asks for on every UploadPart) with ``LimitedStream.readall``: a Python loop of 64 KiB
reads into a ``bytearray``, then a copy of it all into ``bytes``. For a 16 MiB part that is
256 round trips through Python and one extra 16 MiB copy, in the one process every other
request of the emulator waits on (the GIL): it was the emulator's largest single cost while
Haul uploads parts (~18% of its samples in the throttled benchmark).

Here ``readall`` asks the underlying buffered stream for exactly the bytes still to come, in
one call: the buffered reader loops in C and hands back one ``bytes``. What it returns, how
far the stream has moved, and what a short body raises (werkzeug's ``on_disconnect``: a client
that went away mid-body is ``ClientDisconnected``) are werkzeug's. Streams limited to a
maximum (``max_content_length``, where a short read is no error) keep werkzeug's own loop.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, cast


def _read_at_once(original: Callable[[Any], bytes]) -> Callable[[Any], bytes]:
    @functools.wraps(original)
    def readall(self: Any) -> bytes:
        if self.is_exhausted or self._limit_is_max or not hasattr(self._stream, "read"):
            return original(self)
        remaining = self.limit - self._pos
        try:
            data = self._stream.read(remaining)
        except (OSError, ValueError) as exc:
            self.on_disconnect(error=exc)
            return b""
        self._pos += len(data)
        if len(data) < remaining:
            self.on_disconnect()
        return bytes(data)

    return readall


def _not_debug(original: Callable[..., Any]) -> Callable[..., Any]:
    """moto makes each service's Flask app with ``debug = True``. In debug mode Flask gives
    each request's ``files`` a class of its own whose ``__getitem__`` closes over the request
    (flask/debughelpers.py): a reference cycle, which keeps the request, and its cached body,
    alive until the cyclic GC's next full collection; requests live long enough (a 16 MiB
    UploadPart takes a while) to reach the oldest generation (and the emulator's freezer may
    freeze them). The emulator grew by ~300 MiB per 512 MiB stored, all of it request bodies
    waiting for a collection. Without debug mode the body is freed as soon as the request is
    answered. (A handler's exception is still a 500, logged.)"""

    @functools.wraps(original)
    def create(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        app.debug = False
        return app

    return create


def _names_once(original: Callable[[Any], list[str]]) -> Callable[[Any], list[str]]:
    """``moto.core.responses.method_names_from_class``: moto lists a response class's methods
    (``inspect.getmembers``, ~150 attributes looked up and sorted) on every request to check
    that the action has a handler; a class's methods do not change while the server runs."""
    known: dict[Any, list[str]] = {}

    @functools.wraps(original)
    def names(clazz: Any) -> list[str]:
        found = known.get(clazz)
        if found is None:
            found = known[clazz] = original(clazz)
        return found

    return names


def _request_id_at_once(original: Callable[..., str]) -> Callable[..., str]:
    """``moto.core.responses.gen_amzn_requestid_long``: the same 52 letters and digits from
    moto's random source, drawn in one ``choices`` call instead of 52 ``choice`` calls (~5 % of a
    GetItem's time in the emulator)."""
    import string

    from moto.moto_api._internal import mock_random

    pool = string.ascii_letters + string.digits

    @functools.wraps(original)
    def request_id(headerdict: dict[str, Any] | None = None) -> str:
        found = "".join(mock_random.choices(pool, k=52))
        if isinstance(headerdict, dict):
            headerdict.update({"x-amzn-requestid": found})
        return found

    return request_id


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch()."""
    from moto.core import responses
    from moto.moto_server import threaded_moto_server, werkzeug_app
    from werkzeug.wsgi import LimitedStream

    found: list[tuple[type, str, Callable[[Any], Any]]] = [
        (LimitedStream, "readall", _read_at_once), (cast(type, responses), "method_names_from_class", _names_once),
        (cast(type, responses), "gen_amzn_requestid_long", _request_id_at_once),
    ]
    return found + [
        (cast(type, module), "create_backend_app", _not_debug) for module in (werkzeug_app, threaded_moto_server)
    ]
