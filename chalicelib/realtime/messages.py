"""The WebSocket protocol as pure functions: build server messages, parse client messages.

No I/O here. Every server message is a JSON object with ``type`` and ``timestamp``; every
one stays under API Gateway's 128 KB limit (lists are split into pages: see
:func:`split_items`). The protocol is documented with examples in docs/websocket.md.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..domain.states import TaskState
from ..domain.task import Task

# API Gateway refuses a WebSocket message over 128 KB (post_to_connection answers 413).
MAX_MESSAGE_BYTES = 128 * 1024
# What a client may send in one message (API Gateway closes the socket above 128 KB; we
# answer an error well before that).
MAX_CLIENT_MESSAGE = 32 * 1024
MAX_ROOMS_PER_CONNECTION = 100

# Server -> client message types.
SYNC_ALL = "SYNC_ALL"
TASK_ADDED = "TASK_ADDED"
TASK_UPDATED = "TASK_UPDATED"
TASK_REMOVED = "TASK_REMOVED"
TASK_BATCH_UPDATE = "TASK_BATCH_UPDATE"
ENGINE_STATS = "ENGINE_STATS"
NOTIFICATION = "notification"
LOG = "log"
PONG = "pong"
ERROR = "error"
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"

# Topics (one per owner) and per-item rooms.
DOWNLOADS, STATS, LOGS, NOTIFICATIONS = "downloads", "stats", "logs", "notifications"
# Feed events (feed_matched, feed_failed: chalicelib/feeds/events.py).
FEEDS = "feeds"
TOPICS = frozenset({DOWNLOADS, STATS, LOGS, NOTIFICATIONS, FEEDS})
BATCH_PREFIX, DOWNLOAD_PREFIX = "batch:", "download:"
_ROOM_ID = re.compile(r"^[^\s#]{1,128}$")

# Fields of a task's view that move with every progress write: a change to these alone is
# coalesced into TASK_BATCH_UPDATE instead of a TASK_UPDATED of its own.
PROGRESS_KEYS = frozenset({"progress", "downloaded_bytes", "speed", "eta", "parts_done"})
_PROGRESS_ENTRY = (
    "id", "state", "phase", "progress", "downloaded_bytes", "total_bytes", "speed", "eta",
    "parts_done", "parts_total", "batch_id", "updated_at",
)
# Changes of these never make a message by themselves.
_IGNORED_KEYS = frozenset({"updated_at"})


def timestamp(ms: int | None = None) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2025-10-13T15:45:23.456Z``."""
    ms = int(time.time() * 1000) if ms is None else ms
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str)


def size_of(message: Any) -> int:
    """The message's size on the wire, in bytes."""
    return len(json.dumps(message, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def message(kind: str, now_ms: int | None = None, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "timestamp": timestamp(now_ms), **fields}


# -- rooms --------------------------------------------------------------------------------
def parse_room(value: Any) -> str:
    """A room name as a client may write it, normalised; ValueError if it is not one."""
    if not isinstance(value, str):
        raise ValueError("a room is a string such as 'downloads' or 'batch:<id>'")
    room = value.strip()
    if room.lower() in TOPICS:
        return room.lower()
    for prefix in (BATCH_PREFIX, DOWNLOAD_PREFIX):
        if room.lower().startswith(prefix):
            ident = room[len(prefix):]
            if not _ROOM_ID.match(ident):
                raise ValueError(f"'{prefix}' must be followed by an id (1-128 characters, no spaces or '#')")
            return prefix + ident
    raise ValueError(
        "unknown room; use downloads, stats, logs, notifications, feeds, batch:<batch id> or download:<download id>"
    )


def task_rooms(task_id: str, batch_id: str | None) -> list[str]:
    """The rooms whose subscribers follow a task."""
    rooms = [DOWNLOADS, DOWNLOAD_PREFIX + task_id]
    if batch_id:
        rooms.append(BATCH_PREFIX + batch_id)
    return rooms


def is_task_room(room: str) -> bool:
    return room == DOWNLOADS or room.startswith((BATCH_PREFIX, DOWNLOAD_PREFIX))


def room_covers(room: str, task_id: str, batch_id: str | None) -> bool:
    return room in task_rooms(task_id, batch_id)


# -- client -> server ---------------------------------------------------------------------
SUBSCRIBE, UNSUBSCRIBE, PING, SYNC = "subscribe", "unsubscribe", "ping", "sync"
# Search every feed item the connection's user can see: search_result messages as they are
# found, then search_done (chalicelib/feeds/handlers.py).
SEARCH = "search"
_ACTIONS = {SUBSCRIBE, UNSUBSCRIBE, PING, SYNC, SEARCH}
MAX_SEARCH_TEXT = 200
# Other spellings from the seeds: Aniworld's join/leave, Sharktooth's get_downloads.
_ALIASES = {"join": SUBSCRIBE, "leave": UNSUBSCRIBE, "get_downloads": SUBSCRIBE, "snapshot": SYNC,
            "resync": SYNC}


class BadMessage(Exception):
    """A client message we cannot act on; answered with an ``error`` message."""

    def __init__(self, code: str, text: str, field: str | None = None, ref: Any = None) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.field = field
        self.ref = ref


@dataclass(frozen=True)
class Command:
    action: str
    rooms: tuple[str, ...] = ()
    ref: Any = None  # the client's own "id" for the message, echoed back as "ref"
    args: dict[str, Any] = field(default_factory=dict)  # a search's text ("q") and feed ("feed_id")


def parse_command(body: str | None) -> Command:
    """A client message, validated; raises :class:`BadMessage`."""
    data = _decode(body)
    ref = data.get("id")
    if ref is not None and not (isinstance(ref, (str, int)) and not isinstance(ref, bool) and len(str(ref)) <= 128):
        raise BadMessage("BAD_MESSAGE", "'id' must be a string or number of at most 128 characters", "id")
    raw = data.get("action", data.get("type"))
    if not isinstance(raw, str) or not raw.strip():
        raise BadMessage("BAD_MESSAGE", "the message needs an 'action' (subscribe, unsubscribe, ping or sync)",
                         "action", ref)
    name = raw.strip().lower()
    action = _ALIASES.get(name, name)
    if action not in _ACTIONS:
        raise BadMessage("UNKNOWN_ACTION", f"unknown action {raw.strip()[:64]!r}; use subscribe, unsubscribe, "
                         "ping, sync or search", "action", ref)
    if action == PING:
        return Command(PING, (), ref)
    if action == SEARCH:
        return Command(SEARCH, (), ref, _search_args(data, ref))
    rooms = _rooms_of(data, ref)
    if name == "get_downloads" and not rooms:
        rooms = [DOWNLOADS]
    if action in (SUBSCRIBE, UNSUBSCRIBE) and not rooms:
        raise BadMessage("BAD_MESSAGE", f"{action} needs 'rooms' (a list) or 'room'", "rooms", ref)
    if len(rooms) > MAX_ROOMS_PER_CONNECTION:
        raise BadMessage("BAD_MESSAGE", f"at most {MAX_ROOMS_PER_CONNECTION} rooms at once", "rooms", ref)
    return Command(action, _parse_rooms(rooms, ref), ref)


def _decode(body: str | None) -> dict[str, Any]:
    """The message's JSON object: not empty, not too large, valid JSON, an object."""
    if body is None or not body.strip():
        raise BadMessage("BAD_MESSAGE", "the message is empty; send a JSON object with an 'action'")
    if len(body.encode()) > MAX_CLIENT_MESSAGE:
        raise BadMessage("MESSAGE_TOO_LARGE", f"a message may be at most {MAX_CLIENT_MESSAGE} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise BadMessage("BAD_MESSAGE", "the message is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadMessage("BAD_MESSAGE", "the message must be a JSON object with an 'action'")
    return data


def _parse_rooms(rooms: list[Any], ref: Any) -> tuple[str, ...]:
    """The rooms named, each validated, without repeats, in the order given."""
    parsed: list[str] = []
    for i, value in enumerate(rooms):
        try:
            room = parse_room(value)
        except ValueError as exc:
            raise BadMessage("INVALID_ROOM", str(exc), f"rooms[{i}]", ref) from None
        if room not in parsed:
            parsed.append(room)
    return tuple(parsed)


def _search_args(data: dict[str, Any], ref: Any) -> dict[str, Any]:
    text, feed_id = data.get("q"), data.get("feed_id")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_SEARCH_TEXT:
        raise BadMessage("BAD_MESSAGE", f"search needs 'q', a text of 1 to {MAX_SEARCH_TEXT} characters", "q", ref)
    if feed_id is not None and not (isinstance(feed_id, str) and _ROOM_ID.match(feed_id)):
        raise BadMessage("BAD_MESSAGE", "'feed_id' must be a feed's id", "feed_id", ref)
    return {"q": text.strip(), "feed_id": feed_id}


def _rooms_of(data: dict[str, Any], ref: Any) -> list[Any]:
    nested = data.get("data")
    if isinstance(nested, dict) and ("room" in nested or "rooms" in nested):
        data = nested
    if "rooms" in data:
        rooms = data["rooms"]
        if not isinstance(rooms, list):
            raise BadMessage("BAD_MESSAGE", "'rooms' must be a list of room names", "rooms", ref)
        return rooms
    if "room" in data:
        return [data["room"]]
    return []


# -- task changes -------------------------------------------------------------------------
ADDED, UPDATED, REMOVED, PROGRESS = "added", "updated", "removed", "progress"


@dataclass(frozen=True)
class Change:
    """What one write to a task means to a client."""

    kind: str  # added, updated, removed or progress
    task: Task  # as it is now (as it was, for removed)
    previous_state: str | None = None  # set when the state changed
    changed: tuple[str, ...] = ()
    view: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def transition(self) -> bool:
        """A change clients must never miss: an add, a removal or a change of state."""
        return self.kind in (ADDED, REMOVED) or self.previous_state is not None


def classify(old: Task | None, new: Task | None) -> Change | None:
    """The change a stream record (old and new image) stands for; None if no client cares."""
    if new is None and old is None:
        return None
    if old is None:
        assert new is not None
        return Change(ADDED, new, view=new.view())
    if new is None:
        return Change(REMOVED, old, previous_state=old.state.value, view=old.view())
    before, after = old.view(), new.view()
    changed = tuple(k for k, v in after.items() if k not in _IGNORED_KEYS and before.get(k) != v)
    if old.state != new.state:
        return Change(UPDATED, new, old.state.value, changed, after)
    if not changed:
        return None
    if set(changed) <= PROGRESS_KEYS:
        return Change(PROGRESS, new, None, changed, after)
    return Change(UPDATED, new, None, changed, after)


def progress_entry(view: dict[str, Any]) -> dict[str, Any]:
    """The partial task a TASK_BATCH_UPDATE carries."""
    return {k: view.get(k) for k in _PROGRESS_ENTRY}


# -- server -> client builders ------------------------------------------------------------
def task_added(change: Change, now_ms: int | None = None) -> dict[str, Any]:
    return message(TASK_ADDED, now_ms, task=change.view)


def task_updated(change: Change, now_ms: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"task": change.view, "changed": list(change.changed)}
    if change.previous_state is not None:
        body["previous_state"] = change.previous_state
    return message(TASK_UPDATED, now_ms, **body)


def task_removed(change: Change, now_ms: int | None = None) -> dict[str, Any]:
    return message(
        TASK_REMOVED, now_ms, task_id=change.task.id, batch_id=change.task.batch_id,
        previous_state=change.previous_state,
    )


def for_change(change: Change, now_ms: int | None = None) -> dict[str, Any] | None:
    """The TASK_* message of a change (None for progress, which is coalesced)."""
    if change.kind == ADDED:
        return task_added(change, now_ms)
    if change.kind == REMOVED:
        return task_removed(change, now_ms)
    if change.kind == UPDATED:
        return task_updated(change, now_ms)
    return None


def notification(change: Change, now_ms: int | None = None) -> dict[str, Any] | None:
    """A ``notification`` for a download that just completed or failed."""
    if change.previous_state is None or change.kind != UPDATED:
        return None
    task = change.task
    data: dict[str, Any]
    if task.state == TaskState.COMPLETED:
        data = {"level": "success", "title": "Download complete",
                "message": f"{task.filename} is downloaded ({_human(task.size)})"}
    elif task.state == TaskState.FAILED:
        data = {"level": "error", "title": "Download failed",
                "message": f"{task.filename} failed: {task.error or 'unknown error'}"}
    else:
        return None
    data.update(task_id=task.id, filename=task.filename, state=task.state.value, batch_id=task.batch_id)
    return message(NOTIFICATION, now_ms, data=data)


def log_line(change: Change, now_ms: int | None = None) -> dict[str, Any] | None:
    """A ``log`` message for the ``logs`` room: adds, removals and state changes."""
    task = change.task
    level = "INFO"
    if change.kind == ADDED:
        text = f"{task.filename}: added ({task.url})"
    elif change.kind == REMOVED:
        text = f"{task.filename}: removed"
    elif change.previous_state is not None:
        text = f"{task.filename}: {change.previous_state} -> {task.state.value}"
        if task.state == TaskState.FAILED:
            level, text = "ERROR", f"{text}: {task.error or 'unknown error'}"
    else:
        return None
    return message(LOG, now_ms, data={"level": level, "module": "downloads", "message": text, "task_id": task.id})


def engine_stats(counts: dict[str, int], total_speed: int, now_ms: int | None = None) -> dict[str, Any]:
    active = counts.get(TaskState.DOWNLOADING.value, 0)
    stats = {
        "active": active,
        "queued": counts.get(TaskState.QUEUED.value, 0),
        "paused": counts.get(TaskState.PAUSED.value, 0),
        "completed": counts.get(TaskState.COMPLETED.value, 0),
        "failed": counts.get(TaskState.FAILED.value, 0),
        "cancelled": counts.get(TaskState.CANCELLED.value, 0),
        "total": sum(counts.values()),
        "total_speed": total_speed,
        "active_downloads": active,  # Flasharr's name for "active"
    }
    return message(ENGINE_STATS, now_ms, stats=stats)


def batch_updates(entries: Sequence[dict[str, Any]], now_ms: int | None = None,
                  limit: int = MAX_MESSAGE_BYTES) -> list[dict[str, Any]]:
    """TASK_BATCH_UPDATE messages for these progress entries (more than one if they are many)."""
    if not entries:
        return []
    base = message(TASK_BATCH_UPDATE, now_ms)
    return [{**base, "tasks": page} for page in split_items(base, "tasks", entries, limit)]


def sync_all(room: str, views: Sequence[dict[str, Any]], now_ms: int | None = None,
             snapshot_id: str | None = None, limit: int = MAX_MESSAGE_BYTES) -> list[dict[str, Any]]:
    """The snapshot of a room as SYNC_ALL pages, each under ``limit`` bytes.

    Every page says which snapshot it belongs to, its number and the count of pages; the last
    one has ``complete: true``. An empty room is one page with no tasks.
    """
    snapshot_id = snapshot_id or uuid.uuid4().hex
    base = message(SYNC_ALL, now_ms, room=room, snapshot_id=snapshot_id, page=0, pages=0,
                   total=len(views), complete=False)
    pages = split_items(base, "tasks", views, limit)
    return [
        {**base, "page": i, "pages": len(pages), "complete": i == len(pages), "tasks": page}
        for i, page in enumerate(pages, 1)
    ]


def split_items(base: dict[str, Any], key: str, items: Iterable[dict[str, Any]],
                limit: int = MAX_MESSAGE_BYTES, reserve: int = 256) -> list[list[dict[str, Any]]]:
    """Split ``items`` into lists that each fit in ``base`` (under ``key``) within ``limit`` bytes.

    ``reserve`` bytes are kept for fields filled in after the split (page numbers). Always at
    least one list, possibly empty.
    """
    overhead = size_of({**base, key: []}) + reserve
    pages: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    used = overhead
    for item in items:
        n = size_of(item) + (1 if current else 0)
        if current and used + n > limit:
            pages.append(current)
            current, used, n = [], overhead, n - 1
        current.append(item)
        used += n
    pages.append(current)
    return pages


def pong(ref: Any = None, now_ms: int | None = None) -> dict[str, Any]:
    return message(PONG, now_ms, **({"ref": ref} if ref is not None else {}))


def subscribed(kind: str, rooms: Iterable[str], changed: Iterable[str], ref: Any = None,
               now_ms: int | None = None) -> dict[str, Any]:
    """The answer to subscribe/unsubscribe: the rooms that changed and all rooms now joined."""
    body: dict[str, Any] = {"rooms": sorted(rooms), "changed": list(changed)}
    if ref is not None:
        body["ref"] = ref
    return message(kind, now_ms, **body)


def error(code: str, text: str, field: str | None = None, ref: Any = None, request_id: str | None = None,
          now_ms: int | None = None) -> dict[str, Any]:
    """The error envelope of the REST API, as a message."""
    body: dict[str, Any] = {
        "error": {
            "code": code,
            "message": text,
            "details": [{"field": field, "message": text}] if field else [],
            "request_id": request_id,
        }
    }
    if ref is not None:
        body["ref"] = ref
    return message(ERROR, now_ms, **body)


def _human(size: int | None) -> str:
    if size is None:
        return "size unknown"
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"
