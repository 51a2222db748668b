"""Request validation shared by every route: the strict base model, ``parse`` (a body or query
string -> a model, or the error envelope naming each field), and the field types several
concepts use (``PlainText``, ``Instant``). A concept's own request models live in its package
(chalicelib/downloads/schemas.py, chalicelib/auth/schemas.py, chalicelib/feeds/schemas.py...)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, ValidationError

from .errors import ValidationFailed


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _no_control_characters(value: str | None) -> str | None:
    if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


# Text shown to people (names): no control characters (no line breaks or escapes in logs and pages).
PlainText = Annotated[str, AfterValidator(_no_control_characters)]


def _instant(value: Any) -> int | None:
    """An instant as epoch milliseconds, from ISO 8601 (``2024-05-01``, ``2024-05-01T10:00:00Z``)
    or a number of epoch milliseconds."""
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("must be an ISO 8601 date/time or epoch milliseconds")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,13}", value.strip()):
        ms = int(value.strip())
    elif isinstance(value, str) and len(value) <= 40:
        try:
            # An unencoded "+" of a zone offset arrives as a space in a query string.
            text = re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip())
            parsed = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            raise ValueError("must be an ISO 8601 date/time or epoch milliseconds") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # a time without a zone is UTC
        ms = int(parsed.timestamp() * 1000)
    else:
        raise ValueError("must be an ISO 8601 date/time or epoch milliseconds")
    if not 0 <= ms < 10**13:
        raise ValueError("must be between 1970 and 2286")
    return ms


Instant = Annotated[
    int | None,
    BeforeValidator(_instant, json_schema_input_type=str | None),
]


def parse(model: type[BaseModel], data: Any, where: Literal["body", "query"] = "body") -> Any:
    """Validate ``data`` with ``model``; a ValidationFailed naming each offending field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed(f"the {where} must be a JSON object", [{"field": where, "message": "must be an object"}])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or where
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "is not a known field"
            details.append({"field": field, "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:3])
        raise ValidationFailed(f"invalid {where}: {summary}", details) from None
