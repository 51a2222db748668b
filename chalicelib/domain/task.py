"""The download task as the domain sees it, and the figures derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .states import TaskState

PRIORITY_NAMES = {"LOW": -10, "NORMAL": 0, "HIGH": 10}
MIN_PRIORITY, MAX_PRIORITY = -100, 100


def priority_value(value: int | str) -> int:
    """A priority from its name (LOW/NORMAL/HIGH) or number (-100..100)."""
    if isinstance(value, str):
        key = value.strip().upper()
        if key in PRIORITY_NAMES:
            return PRIORITY_NAMES[key]
        value = int(key)
    if not MIN_PRIORITY <= value <= MAX_PRIORITY:
        raise ValueError(f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}")
    return value


def priority_name(value: int) -> str:
    if value >= PRIORITY_NAMES["HIGH"]:
        return "HIGH"
    if value <= PRIORITY_NAMES["LOW"]:
        return "LOW"
    return "NORMAL"


def rank(priority: int, order: int) -> str:
    """A sort key that puts higher priority first, then lower ``order`` (earlier) first."""
    return f"{MAX_PRIORITY - priority:03d}#{order:020d}"


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    # A fixed width (isoformat() alone drops the fraction when it is zero), like the
    # realtime messages: these strings sort and parse the same way every time.
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Task:
    id: str
    owner: str
    url: str
    filename: str
    key: str
    state: TaskState = TaskState.QUEUED
    priority: int = 0
    order: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    checksum: str | None = None
    batch_id: str | None = None
    batch_name: str | None = None
    category: str | None = None
    tags: list[str] = field(default_factory=list)
    filename_locked: bool = False
    # What the probe found.
    size: int | None = None
    content_type: str | None = None
    validator: str | None = None
    resumable: bool = True
    # The plan and the multipart upload it fills.
    part_size: int | None = None
    part_count: int | None = None
    upload_id: str | None = None
    gen: int = 0
    run: int = 0
    restarts: int = 0
    # Progress.
    parts_done: int = 0
    bytes_done: int = 0
    lane_bytes: dict[str, int] = field(default_factory=dict)
    lane_speed: dict[str, int] = field(default_factory=dict)
    phase: str | None = None
    error: str | None = None
    note: str | None = None
    created_at: int = 0
    started_at: int | None = None
    finished_at: int | None = None
    updated_at: int = 0
    heartbeat: int = 0
    # The origin's host (lower case) and this download's own speed limit in bytes per second
    # (None: the settings' default; 0: none).
    host: str | None = None
    speed_limit: int | None = None
    # Since when (epoch ms) the download has been slower than the settings' min_speed.
    slow_since: int | None = None
    # What it is (chalicelib/metadata/models.py, stored as validated JSON), and where it lands:
    # a folder prefix and a naming template of its own (None: its category's, the settings').
    metadata: dict[str, Any] | None = None
    path: str | None = None
    naming: str | None = None
    replace: bool = False
    # The key its object moves to once stored: a rename asked for while it transfers.
    target: str | None = None

    @property
    def downloaded(self) -> int:
        live = sum(self.lane_bytes.values()) if self.state == TaskState.DOWNLOADING else 0
        total = self.bytes_done + live
        return min(total, self.size) if self.size is not None else total

    @property
    def speed(self) -> int:
        if self.state != TaskState.DOWNLOADING:
            return 0
        return max(0, sum(self.lane_speed.values()))

    @property
    def progress(self) -> float:
        if self.state == TaskState.COMPLETED:
            return 100.0
        if not self.size:
            return 0.0
        return round(100.0 * self.downloaded / self.size, 2)

    @property
    def eta(self) -> int | None:
        if self.size is None or self.speed <= 0:
            return None
        return max(0, -(-(self.size - self.downloaded) // self.speed))

    def view(self) -> dict[str, Any]:
        """The task as the API shows it."""
        return {
            "id": self.id,
            "url": self.url,
            "filename": self.filename,
            "key": self.key,
            "state": self.state.value,
            "phase": self.phase,
            "priority": priority_name(self.priority),
            "priority_value": self.priority,
            "progress": self.progress,
            "downloaded_bytes": self.downloaded,
            "total_bytes": self.size,
            "speed": self.speed,
            "eta": self.eta,
            "resumable": self.resumable,
            "parts_total": self.part_count,
            "parts_done": self.parts_done,
            "part_size": self.part_size,
            "content_type": self.content_type,
            "checksum": self.checksum,
            "batch_id": self.batch_id,
            "batch_name": self.batch_name,
            "category": self.category,
            "tags": list(self.tags),
            "header_names": sorted(self.headers),
            "metadata": self.metadata,
            "path": self.path,
            "naming": self.naming,
            "target": self.target,
            "error": self.error,
            "note": self.note,
            "restarts": self.restarts,
            "host": self.host,
            "speed_limit": self.speed_limit,
            "owner": self.owner,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "updated_at": iso(self.updated_at),
        }
