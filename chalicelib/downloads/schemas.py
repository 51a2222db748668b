"""Request models: every body and query string is validated here before it reaches the engine."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from ..api.schemas import Instant, PlainText, _Strict
from ..domain import filenames
from ..domain.states import TaskState
from ..domain.task import priority_value
from ..metadata.models import Metadata
from ..metadata.settings import FolderPath, Template

MAX_URL = 2048
MAX_HEADERS = 32
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$")
_CHECKSUM = re.compile(r"^(sha256|sha1|sha512|md5):([0-9a-fA-F]+)$")
_DIGEST_HEX = {"md5": 32, "sha1": 40, "sha256": 64, "sha512": 128}
# Headers Haul sets itself; a user may not override them.
_RESERVED_HEADERS = {
    "host", "range", "if-range", "content-length", "transfer-encoding", "connection",
    "accept-encoding", "te", "upgrade", "expect", "proxy-authorization",
}


def _priority(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError("must be LOW, NORMAL, HIGH or a number from -100 to 100")
    try:
        return priority_value(value)
    except (ValueError, TypeError):
        raise ValueError("must be LOW, NORMAL, HIGH or a number from -100 to 100") from None


# LOW / NORMAL / HIGH or -100..100, always an int once validated.
Priority = Annotated[
    int,
    BeforeValidator(
        _priority,
        json_schema_input_type=Annotated[int, Field(ge=-100, le=100)] | Literal["LOW", "NORMAL", "HIGH"],
    ),
]


MIN_SPEED_LIMIT = 16 * 1024
MAX_SPEED_LIMIT = 100 * 1024**3


def _speed_limit(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a number of bytes per second")
    if isinstance(value, int) and value != 0 and not MIN_SPEED_LIMIT <= value <= MAX_SPEED_LIMIT:
        raise ValueError(
            f"must be 0 (no limit) or from {MIN_SPEED_LIMIT} (16 KiB/s) to {MAX_SPEED_LIMIT} (100 GiB/s) "
            "bytes per second"
        )
    return value


# Bytes per second: 0 = no limit, else 16 KiB/s .. 100 GiB/s.
SpeedLimit = Annotated[
    int,
    AfterValidator(_speed_limit),
    Field(ge=0, le=MAX_SPEED_LIMIT, description="bytes per second; 0: no limit; else at least 16384"),
]


class AddDownload(_Strict):
    url: str = Field(min_length=1, max_length=MAX_URL)
    filename: str | None = Field(default=None, max_length=1024)
    # The ids GET /batches/{id} can name: letters, digits and '-'.
    batch_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    batch_name: PlainText | None = Field(default=None, max_length=200)
    priority: Priority = 0
    headers: dict[str, str] = Field(default_factory=dict)
    checksum: str | None = Field(default=None, max_length=200)
    category: PlainText | None = Field(default=None, max_length=100)
    tags: list[PlainText] = Field(default_factory=list, max_length=20)
    # A URL this user already has queued, running, paused or completed answers with that
    # download unless this is true.
    allow_duplicate: bool = False
    speed_limit: SpeedLimit | None = None
    # What the download is (docs/library.md); with it, the file is named by a template.
    metadata: Metadata | None = None
    # Where it lands: a folder prefix (else the category's folder) and a naming template
    # (else the category's, else the settings' template for its kind).
    path: FolderPath | None = None
    naming: Template | None = None
    # Take the key even if another download's object is there (else a free " (2)" is chosen).
    replace: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/$.?#][^\s]*$", value, re.I):
            raise ValueError("must be an absolute http:// or https:// URL")
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises on a port that is not a number in 0..65535
        except ValueError as exc:
            raise ValueError(f"is not a valid URL: {exc}") from None
        if not parts.hostname:
            raise ValueError("must name a host")
        return value

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is None:
            return None
        clean = filenames.sanitize(value)
        if not value.strip():
            raise ValueError("must not be empty")
        return clean

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_HEADERS:
            raise ValueError(f"at most {MAX_HEADERS} headers")
        for name, content in value.items():
            if not _TOKEN.match(name):
                raise ValueError(f"{name!r} is not a valid header name")
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f"{name!r} is set by Haul and cannot be overridden")
            if len(content) > 8192 or any(c in content for c in "\r\n\x00"):
                raise ValueError(f"the value of {name!r} is too long or has line breaks")
        return value

    @field_validator("checksum")
    @classmethod
    def _checksum(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = _CHECKSUM.match(value)
        if not match or len(match.group(2)) != _DIGEST_HEX[match.group(1)]:
            raise ValueError("must be <algorithm>:<hex digest> with sha256, sha1, sha512 or md5")
        return f"{match.group(1)}:{match.group(2).lower()}"

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if not 1 <= len(tag) <= 50:
                raise ValueError("each tag must be 1 to 50 characters")
        return value


class PatchDownload(_Strict):
    priority: Priority | None = None
    filename: str | None = Field(default=None, max_length=1024)
    # Absent: unchanged; null: back to the settings' default; 0: no limit (model_fields_set).
    speed_limit: SpeedLimit | None = None
    # Absent: unchanged; null: removed. A changed name before completion changes the target
    # key; after completion the object is copied to the new key and the old one deleted.
    metadata: Metadata | None = None
    path: FolderPath | None = None
    naming: Template | None = None
    replace: bool = False

    @field_validator("filename")
    @classmethod
    def _filename(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty")
        return filenames.sanitize(value)


_STATES = "|".join(s.value for s in TaskState)
_STATUS_LIST = f"^({_STATES})(,({_STATES}))*$"


class ListQuery(_Strict):
    """The downloads list's query string (chalicelib/downloads/listing.py plans it onto an index)."""

    # One state, or a comma-separated list of states.
    status: str | None = Field(default=None, max_length=200, json_schema_extra={"pattern": _STATUS_LIST})
    batch_id: str | None = Field(default=None, min_length=1, max_length=64)
    category: str | None = Field(default=None, min_length=1, max_length=100)
    tag: str | None = Field(default=None, min_length=1, max_length=50)
    # Created at or after / at or before: ISO 8601 or epoch milliseconds.
    created_from: Instant = None
    created_to: Instant = None
    # Text search on filename and URL (case-insensitive substring).
    q: str | None = Field(default=None, min_length=1, max_length=200)
    # -created_at (newest first, the default), created_at (oldest first), queue (dispatch order).
    sort: Literal["-created_at", "created_at", "queue"] = "-created_at"
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)
    # Whose downloads: an admin lists everyone's without it; anyone else only their own.
    owner: str | None = Field(default=None, min_length=1, max_length=64)
    # Metadata (chalicelib/metadata/filters.py): tmdb_id, title or artist is an index of its own;
    # season, episode, kind, year and album narrow one of them.
    tmdb_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    title: str | None = Field(default=None, min_length=1, max_length=300)
    artist: str | None = Field(default=None, min_length=1, max_length=300)
    season: int | None = Field(default=None, ge=0, le=1000)
    episode: int | None = Field(default=None, ge=0, le=10000)
    kind: Literal["movie", "tv"] | None = None
    year: int | None = Field(default=None, ge=1870, le=2100)
    album: str | None = Field(default=None, min_length=1, max_length=300)

    @model_validator(mode="after")
    def _metadata_filters(self) -> ListQuery:
        entry = [n for n in ("tmdb_id", "title", "artist") if getattr(self, n) is not None]
        narrow = [n for n in ("season", "episode", "kind", "year", "album") if getattr(self, n) is not None]
        if len(entry) > 1:
            raise ValueError(f"give one of tmdb_id, title or artist, not {' and '.join(entry)}")
        if narrow and not entry:
            raise ValueError(f"{', '.join(narrow)} narrow a tmdb_id, title or artist filter; give one of those too")
        if entry and (self.batch_id is not None or self.sort == "queue"):
            raise ValueError("a metadata filter lists newest or oldest first, without batch_id")
        return self

    @property
    def metadata_filters(self) -> dict[str, Any]:
        """The metadata filters given: name -> value."""
        names = ("tmdb_id", "title", "artist", "season", "episode", "kind", "year", "album")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [part.strip() for part in value.split(",")]
        known = {s.value for s in TaskState}
        if not names or any(n not in known for n in names):
            raise ValueError(f"must be one of {', '.join(sorted(known))}, or a comma-separated list of them")
        return ",".join(dict.fromkeys(names))

    @field_validator("q")
    @classmethod
    def _q(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @field_validator("created_to")
    @classmethod
    def _range(cls, value: int | None, info: Any) -> int | None:
        start = info.data.get("created_from")
        if value is not None and start is not None and value < start:
            raise ValueError("must not be before created_from")
        return value

    @property
    def states(self) -> tuple[TaskState, ...]:
        """The states asked for (empty: any)."""
        return tuple(TaskState(s) for s in self.status.split(",")) if self.status else ()


class DeleteQuery(_Strict):
    delete_file: bool = False


# -- queue control, ordering and bulk actions (chalicelib/engine/queuecontrol.py, chalicelib/downloads/bulk.py) --

MAX_BULK = 500
TaskId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")]


def _unique(value: list[str]) -> list[str]:
    seen: set[str] = set()
    for item in value:
        if item in seen:
            raise ValueError(f"{item!r} appears more than once")
        seen.add(item)
    return value


class BulkRequest(_Strict):
    action: Literal["pause", "resume", "retry", "cancel", "delete"]
    ids: Annotated[list[TaskId], AfterValidator(_unique), Field(min_length=1, max_length=MAX_BULK)]
    # With "delete": delete the stored files too.
    delete_file: bool = False


class MoveRequest(_Strict):
    to: Literal["top", "bottom"]


class ReorderRequest(_Strict):
    ids: Annotated[list[TaskId], AfterValidator(_unique), Field(min_length=2, max_length=MAX_BULK)]


class OwnerQuery(_Strict):
    # Whose downloads (admins only may name another user): the caller's own without it.
    owner: str | None = Field(default=None, min_length=1, max_length=64)


class ClearHistoryQuery(_Strict):
    status: str = Field(
        min_length=1, max_length=100,
        description="comma-separated finished states to clear: completed, failed, cancelled",
    )
    delete_files: bool = False
    owner: str | None = Field(default=None, min_length=1, max_length=64)

    @field_validator("status")
    @classmethod
    def _status(cls, value: str) -> str:
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        finished = ("completed", "failed", "cancelled")
        bad = [n for n in names if n not in finished]
        if not names or bad:
            raise ValueError(
                f"must name finished states only (completed, failed, cancelled), not {', '.join(bad) or 'none'}"
            )
        return ",".join(dict.fromkeys(names))

    def states(self) -> list[TaskState]:
        return [TaskState(n) for n in self.status.split(",")]


# -- accounts ------------------------------------------------------------------------------
