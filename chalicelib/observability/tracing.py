"""Tracing, behind one small interface: :func:`install`, :func:`span`, :func:`traced`, :func:`annotate`.

Today the backend is AWS X-Ray (aws-xray-sdk): in Lambda, with active tracing on the function,
:func:`install` patches botocore (every S3, SQS and DynamoDB call, PynamoDB's included) and
requests (every call to an origin; X-Ray records the URL without its query string) so each
call becomes a subsegment of the invocation's trace. Outside Lambda (the local runtime, tests,
``chalice local``) nothing is imported or patched and every function here is a no-op, so the
SDK costs nothing and never complains about a missing segment.

The X-Ray SDK is in maintenance mode. Code outside this module only uses the four functions
above, so moving to OpenTelemetry (the ADOT Lambda layer plus ``opentelemetry-instrumentation-
botocore``/``-requests``) means rewriting this file and nothing else.

``HAUL_TRACING=off`` disables tracing even in Lambda.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

log = logging.getLogger("haul.tracing")
F = TypeVar("F", bound=Callable[..., Any])
# Libraries whose calls become subsegments. PynamoDB goes through botocore's client, so
# patching "pynamodb" as well would record every DynamoDB call twice.
PATCHED = ("botocore", "requests")

_lock = threading.Lock()
_recorder: Any = None
_decided = False


def in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("LAMBDA_TASK_ROOT"))


def install() -> bool:
    """Turn tracing on if this process runs in Lambda; True if it is on. Idempotent."""
    global _recorder, _decided
    with _lock:
        if _decided:
            return _recorder is not None
        _decided = True
        if os.environ.get("HAUL_TRACING", "auto").lower() in {"off", "false", "0", "no"} or not in_lambda():
            return False
        try:
            from aws_xray_sdk.core import patch, xray_recorder
        except ImportError:  # pragma: no cover - the SDK ships in the deployment package
            log.warning("aws-xray-sdk is not installed; tracing stays off")
            return False
        # IGNORE_ERROR: a call made outside an invocation (module import, a background
        # thread that outlives its invocation) is simply not traced.
        xray_recorder.configure(service="haul", context_missing="IGNORE_ERROR")
        patch(PATCHED)
        _recorder = xray_recorder
        log.debug("X-Ray tracing on (%s patched)", ", ".join(PATCHED))
        return True


def enabled() -> bool:
    return _recorder is not None


@contextmanager
def span(name: str, **annotations: str | int | float | bool) -> Iterator[None]:
    """A subsegment around a block (e.g. reading a whole part from an origin, which the
    requests patch only covers up to the response headers). Annotations are indexed by X-Ray
    and can be searched (``annotation.task_id = "..."``)."""
    if _recorder is None:
        yield
        return
    with _recorder.in_subsegment(name) as subsegment:
        if subsegment is not None:
            for key, value in annotations.items():
                subsegment.put_annotation(key, value)
        yield


def traced(name: str | None = None) -> Callable[[F], F]:
    """Decorator form of :func:`span`, named after the function unless ``name`` is given."""

    def decorate(fn: F) -> F:
        label = name or f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__qualname__}"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with span(label):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def annotate(**annotations: str | int | float | bool) -> None:
    """Annotate the innermost open subsegment (the Lambda segment itself is read-only)."""
    if _recorder is None:
        return
    subsegment = _recorder.current_subsegment()
    if subsegment is None:
        return
    for key, value in annotations.items():
        subsegment.put_annotation(key, value)


def _reset_for_tests() -> None:
    """Forget the decision so a test can call :func:`install` again (patches stay applied)."""
    global _recorder, _decided
    with _lock:
        _recorder, _decided = None, False
