"""Pure parsing and formatting: sizes ("5M"), durations ("30m"), headers, settings, ages.

No I/O here; tests/unit/test_cli_units.py checks every function directly.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from typing import Any

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)(?:/s)?\s*$", re.IGNORECASE)
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[smhdw]?\s*)+$", re.IGNORECASE)
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4}
_SECONDS = {"s": 1, "": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_size(text: str) -> int:
    """Bytes from ``5M``, ``1.5G``, ``512k``, ``100``, ``2MiB``, ``5M/s``: binary multiples (1K = 1024),
    as aria2c and curl read them. ``0`` means no limit where a limit is asked for."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 500K, 5M, 1.5G, 1048576)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * 1024 ** _POWERS[unit])


def parse_duration(text: str) -> int:
    """Seconds from ``30m``, ``90s``, ``1h30m``, ``2d``, ``45`` (plain numbers are seconds)."""
    if not _DURATION.match(text):
        raise ValueError(f"not a duration: {text!r} (examples: 90s, 30m, 1h30m, 2d)")
    total = sum(float(n) * _SECONDS[u.lower()] for n, u in _DURATION_PART.findall(text))
    return int(round(total))


def parse_header(text: str) -> tuple[str, str]:
    """``'Cookie: a=b'`` -> ("Cookie", "a=b"), as curl's -H."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or " " in name.strip():
        raise ValueError(f"not a header: {text!r} (expected 'Name: value')")
    return name.strip(), value.strip()


def parse_assignment(text: str) -> tuple[str, Any]:
    """``key=value`` with the value read as JSON when it is JSON (numbers, true, null), else a string.
    Sizes keep working for byte settings: ``transfer.part_size=32M``."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"not a setting: {text!r} (expected key=value, e.g. transfer.part_size=32M)")
    raw = raw.strip()
    try:
        return key.strip(), json.loads(raw)
    except ValueError:
        pass
    if _SIZE.match(raw) and any(c.isalpha() for c in raw):
        return key.strip(), parse_size(raw)
    return key.strip(), raw


def nest_settings(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``[("transfer.part_size", 1)]`` -> ``{"transfer": {"part_size": 1}}``; flat names stay flat."""
    body: dict[str, Any] = {}
    for key, value in pairs:
        section, dot, name = key.partition(".")
        if dot:
            body.setdefault(section, {})[name] = value
        else:
            body[key] = value
    return body


def format_size(n: float | None) -> str:
    """``1536`` -> ``1.5 KiB``; None -> ``?``."""
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def format_speed(bps: float | None) -> str:
    if not bps:
        return "-"
    return f"{format_size(bps)}/s"


def format_duration(seconds: float | None) -> str:
    """``3725`` -> ``1h02m``; ``65`` -> ``1m05s``; None -> ``-``."""
    if seconds is None or seconds < 0 or math.isnan(seconds):
        return "-"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def parse_time(iso: str | None) -> datetime | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def format_age(iso: str | None, now: datetime | None = None) -> str:
    """How long ago: ``5s ago``, ``3m ago``, ``2h ago``, ``4d ago``; ``-`` when unknown."""
    when = parse_time(iso)
    if when is None:
        return "-"
    delta = max(0, int(((now or datetime.now(UTC)) - when).total_seconds()))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if delta >= size:
            return f"{delta // size}{unit} ago"
    return f"{delta}s ago"


def progress_bar_text(percent: float | None, width: int = 20) -> str:
    """A plain-text bar for non-terminal output: ``[#####-----] 50.0%``."""
    p = max(0.0, min(100.0, float(percent or 0.0)))
    done = int(round(p / 100 * width))
    return f"[{'#' * done}{'-' * (width - done)}] {p:5.1f}%"
