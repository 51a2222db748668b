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
