"""Logging: one JSON object per line, with the request id and task id of whatever is running.

Every record that reaches a handler configured here is written as a single line of JSON::

    {"time": "2025-01-01T12:00:00.123Z", "level": "INFO", "logger": "haul.transfer",
     "message": "task 1f2e: downloading -> completed (1048576 bytes)",
     "request_id": "c6af9ac6-...", "task_id": "1f2e", "function": "haul-dev-Work-x1y2"}

The ids come from a context variable: :func:`bind` adds fields for the duration of a block, and
:func:`log_context` is a Chalice middleware that binds them for every invocation (REST request
id and ``{task_id}`` path parameter, the task of a single-record SQS message, the WebSocket
connection id, the Lambda request id otherwise). ``HAUL_LOG_FORMAT=text`` switches to a human-readable
line that carries the same fields; ``HAUL_LOG_LEVEL`` sets the level of Haul's own loggers.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import Any

from ..domain.urls import redact

_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})
_FIELDS: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("haul_log_fields", default=_NO_FIELDS)
# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged.
_RECORD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "aws_request_id"}
_NOISY = ("botocore", "boto3", "urllib3", "pynamodb", "werkzeug", "aws_xray_sdk")


def current_fields() -> dict[str, Any]:
    """The fields bound to this context (a copy)."""
    return dict(_FIELDS.get())


@contextmanager
def bind(**fields: Any) -> Iterator[None]:
    """Add ``fields`` (None values are skipped) to every log line written inside the block."""
    token = _FIELDS.set({**_FIELDS.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def _utc(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; newlines in messages and tracebacks stay escaped."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update(_FIELDS.get())
        # The Lambda runtime's log filter puts the invocation id on every record.
        aws_request_id = getattr(record, "aws_request_id", None)
        if aws_request_id:
            out.setdefault("aws_request_id", aws_request_id)
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and not key.startswith("_"):
                out.setdefault(key, value)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["error"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # No URL credentials or query values in any log line (signed URLs, tokens).
        return redact(json.dumps(out, default=str, ensure_ascii=False, separators=(",", ":")))


class TextFormatter(logging.Formatter):
    """For people at a terminal: the classic line, then the bound fields as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = redact(super().format(record))
        fields = " ".join(f"{k}={v}" for k, v in _FIELDS.get().items())
        if not fields:
            return line
        first, newline, rest = line.partition("\n")
        return f"{first} [{fields}]{newline}{rest}"


def formatter() -> logging.Formatter:
    return TextFormatter() if os.environ.get("HAUL_LOG_FORMAT", "json").lower() == "text" else JsonFormatter()


def _in_lambda() -> bool:
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("LAMBDA_TASK_ROOT"))


def configure_logging() -> None:
    """Idempotent. In Lambda the runtime's handler keeps writing (it frames each record for
    CloudWatch) with this module's formatter; elsewhere a stderr handler is added unless the
    host process (pytest, an embedding app) already configured logging."""
    level = os.environ.get("HAUL_LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "_haul", False)]
    targets: list[logging.Handler] = []
    if not root.handlers:
        stream = logging.StreamHandler(sys.stderr)
        stream._haul = True  # type: ignore[attr-defined]
        root.addHandler(stream)
        targets = [stream]
    elif _in_lambda():
        targets = list(root.handlers)
    elif ours:
        targets = ours
    fmt = formatter()
    for handler in targets:
        handler.setFormatter(fmt)
    logging.getLogger("haul").setLevel(level)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)


# -- binding ids per invocation ---------------------------------------------------------------
def _function_name(context: Any) -> str | None:
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or getattr(context, "function_name", None)


def _task_of(body: str) -> str | None:
    try:
        message = json.loads(body)
    except (TypeError, ValueError):
        return None
    task = message.get("task") if isinstance(message, dict) else None
    return str(task) if task else None


def event_fields(event: Any) -> dict[str, Any]:
    """The log fields of a Chalice event object: request id, task id, function name."""
    from chalice.app import Request, SQSEvent, WebsocketEvent

    if isinstance(event, Request):
        context = event.context if isinstance(event.context, dict) else {}
        request_id = context.get("requestId")
        if not request_id:
            # API Gateway always sets one; ``chalice local`` does not. Give the request one so
            # the log lines and the X-Request-Id header (functions/rest/http.py) name the same id.
            request_id = str(uuid.uuid4())
            if isinstance(event.context, dict):
                event.context["requestId"] = request_id
        return {
            "request_id": request_id,
            "task_id": (event.uri_params or {}).get("task_id"),
            "function": _function_name(event.lambda_context),
        }
    lambda_context = getattr(event, "context", None)
    fields: dict[str, Any] = {
        "request_id": getattr(lambda_context, "aws_request_id", None),
        "function": _function_name(lambda_context),
    }
    if isinstance(event, SQSEvent):
        records = list(event)
        if len(records) == 1:
            fields["task_id"] = _task_of(records[0].body)
            fields["message_id"] = records[0].to_dict().get("messageId")
    elif isinstance(event, WebsocketEvent):
        request_context = event.to_dict().get("requestContext") or {}
        fields["request_id"] = request_context.get("requestId") or fields["request_id"]
        fields["connection_id"] = request_context.get("connectionId")
    return fields


def log_context(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware (``app.register_middleware(log_context, "all")``): every line logged
    while a handler runs carries the invocation's request id, and its task id when it has one.
    A handler that works through several tasks can narrow it further with :func:`bind`."""
    with bind(**event_fields(event)):
        return get_response(event)
