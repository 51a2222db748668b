"""Opaque list cursors: a JSON value, URL-safe base64 without padding.

Each list validates what it finds inside (its own key shape, the plan it was issued for);
this module only packs and unpacks.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def pack(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def unpack(cursor: str) -> Any:
    """The value inside ``cursor``; ValueError if it is not one :func:`pack` made."""
    try:
        return json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, TypeError):
        raise ValueError("not a cursor") from None


def pack_position(signature: str, segment: int, key: dict[str, Any], total: int | None) -> str:
    """A cursor of a list planned as ``signature``: where to resume (the partition walked and
    the index key of the last item returned) and the list's total, if it was counted."""
    raw: dict[str, Any] = {"v": 1, "g": signature, "s": segment, "k": key}
    if total is not None:
        raw["t"] = total
    return pack(raw)


def unpack_position(cursor: str, signature: str, segments: int) -> tuple[int, Any, int | None]:
    """(segment, key, total) of a cursor :func:`pack_position` made for this plan; ValueError
    for anything else (forged, another list's, another filter's). The key is the caller's to
    check."""
    value = unpack(cursor)
    if not isinstance(value, dict) or value.get("v") != 1 or value.get("g") != signature:
        raise ValueError("not a cursor of this list")
    segment, key, total = value.get("s"), value.get("k"), value.get("t")
    if not isinstance(segment, int) or isinstance(segment, bool) or not 0 <= segment < segments:
        raise ValueError("not a cursor of this list")
    if total is not None and (not isinstance(total, int) or isinstance(total, bool) or total < 0):
        raise ValueError("not a cursor of this list")
    return segment, key, total
