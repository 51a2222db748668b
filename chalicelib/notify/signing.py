"""Webhook bodies and their signatures (pure functions).

A webhook is a POST of JSON with a stable schema (``schema`` names its version)::

    {"schema": "haul.notification/1", "id": "<delivery id>", "event": "download.completed",
     "occurred_at": "2025-01-31T12:00:00.000Z", "title": "...", "message": "...",
     "level": "success", "data": {...}}

With a secret, the request carries ``X-Haul-Signature: t=<unix seconds>,v1=<hex>``, where
``v1`` is HMAC-SHA256 with the secret over ``"<t>." + body`` (the exact bytes sent). A
receiver recomputes it, compares in constant time, and refuses a ``t`` older than a few
minutes (a replayed request). ``X-Haul-Event`` and ``X-Haul-Delivery`` repeat the event and
the delivery id (a retry sends the same id: receivers can drop duplicates).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SCHEMA = "haul.notification/1"
SIGNATURE_HEADER = "X-Haul-Signature"
EVENT_HEADER = "X-Haul-Event"
DELIVERY_HEADER = "X-Haul-Delivery"
DEFAULT_TOLERANCE = 300


def body(delivery_id: str, event: str, occurred_at: str, title: str, message: str, level: str,
         data: dict[str, Any]) -> bytes:
    return json.dumps({"schema": SCHEMA, "id": delivery_id, "event": event, "occurred_at": occurred_at,
                       "title": title, "message": message, "level": level, "data": data},
                      separators=(",", ":"), ensure_ascii=False, default=str).encode()


def signature(secret: str, timestamp: int, payload: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str | None, payload: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE) -> bool:
    """Whether ``header`` signs ``payload`` with ``secret`` and is recent (what a receiver does)."""
    if not header:
        return False
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, payload), f"t={timestamp},v1={parts.get('v1', '')}")
