"""Attribute types of Haul's own, for PynamoDB models."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.constants import MAP


class PlainMapAttribute(Attribute[dict[str, Any]]):
    """A map of names to strings, numbers or booleans, read as a plain ``dict``.

    Stored exactly as an untyped ``MapAttribute`` stores such a map (``{"M": {name: {"S"|"N"|
    "BOOL": ...}}}``), and usable in expressions the same way (``Model.attr[name].set(v)``), but
    read about twenty times faster: PynamoDB builds a ``MapAttribute`` object per map per item,
    and a task has five (headers and four per-lane maps): the cost of reading a page is in
    docs/performance.md ("Measurements behind the code"). Nested maps or lists are refused when
    written, rather than read back wrong.
    """

    attr_type = MAP

    def serialize(self, value: dict[str, Any]) -> dict[str, dict[str, Any]]:
        return {str(name): _encode(name, v) for name, v in value.items()}

    def deserialize(self, value: dict[str, dict[str, Any]]) -> dict[str, Any]:
        return {name: _decode(v) for name, v in value.items()}


def _encode(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    raise ValueError(f"{name!r}: a plain map holds strings, numbers and booleans, not {type(value).__name__}")


def _decode(value: dict[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        text = value["N"]
        try:
            return int(text)
        except ValueError:
            return float(text)
    if "BOOL" in value:
        return bool(value["BOOL"])
    if "NULL" in value:
        return None
    raise ValueError(f"a plain map holds strings, numbers and booleans, not {sorted(value)}")
