"""botocore's User-Agent header, built once per client (local runtime performance).

botocore builds each request's User-Agent anew, twice per request (when it makes the request
and again before it sends it): some twenty components, each cleaned character by character
(``sanitize_user_agent_string_component``). In a profile of the workers during a batch of
small downloads that was about a tenth of their CPU (docs/performance.md). The string depends
on the client's settings, which do not change once it is made, and on the features in use:
the client's and the request's (botocore's context, e.g. a paginator or a retry mode). Here
it is kept per generator object and per feature set, so each distinct string is built once.

Applied by the local runtime's processes (the runtime and its workers), for the botocore
version it was written for only (``PATCHED_FOR``); any other leaves botocore as it is.
"""

from __future__ import annotations

import functools
import importlib.metadata
import threading
import weakref
from collections.abc import Callable
from typing import Any

PATCHED_FOR = "1.43.11"
_KEPT = 64  # feature sets kept per generator (a client uses a handful)
_done = threading.Lock()


def _kept(original: Callable[[Any], str]) -> Callable[[Any], str]:
    from botocore.context import get_context

    strings: weakref.WeakKeyDictionary[Any, dict[frozenset[str], str]] = weakref.WeakKeyDictionary()
    lock = threading.Lock()

    @functools.wraps(original)
    def to_string(self: Any) -> str:
        ctx = get_context()
        features = frozenset(self._client_features or ()) | frozenset(ctx.features if ctx is not None else ())
        with lock:
            known = strings.get(self)
            if known is None:
                known = strings[self] = {}
            found = known.get(features)
        if found is None:
            found = original(self)
            with lock:
                if len(known) < _KEPT:
                    known[features] = found
        return found

    return to_string


def install() -> bool:
    """Keep the User-Agent strings, if botocore is :data:`PATCHED_FOR`; whether it is done."""
    from botocore.useragent import UserAgentString

    try:
        version = importlib.metadata.version("botocore")
    except importlib.metadata.PackageNotFoundError:
        return False
    if version != PATCHED_FOR:
        return False
    with _done:
        if not getattr(UserAgentString.to_string, "_haul_kept", False):
            kept = _kept(UserAgentString.to_string)
            kept._haul_kept = True  # type: ignore[attr-defined]
            UserAgentString.to_string = kept
    return True
