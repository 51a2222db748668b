"""Marks the health report reads (control-table items): when a worker last took a message,
and how old the newest stream record was when the fan-out handled it. Written at most every
few seconds per process, so they cost nothing on the hot path."""

from __future__ import annotations

import threading
import time

from pynamodb.exceptions import DoesNotExist

from ..persistence.models import ControlModel

MARK_EVERY_SECONDS = 10.0
_last: dict[str, float] = {}
_lock = threading.Lock()


def _due(name: str, now: float) -> bool:
    with _lock:
        if now - _last.get(name, 0.0) < MARK_EVERY_SECONDS:
            return False
        _last[name] = now
        return True


def mark(name: str, lag_ms: int | None = None) -> None:
    """Note that ``name`` (``worker``, ``fanout``) worked just now (and, for a stream consumer,
    how old its newest record was); at most every 10 s per process; never raises."""
    now = time.time()
    if not _due(name, now):
        return
    try:
        ControlModel(f"health#{name}", data={"at": int(now * 1000), "lag_ms": lag_ms},
                     updated_at=int(now * 1000)).save()
    except Exception:  # noqa: BLE001 - a health mark must never fail the work it marks
        with _lock:
            _last.pop(name, None)


def read_mark(name: str) -> dict[str, int | None] | None:
    try:
        data = ControlModel.get(f"health#{name}", consistent_read=True).data
    except DoesNotExist:
        return None
    return dict(data) if isinstance(data, dict) else None
