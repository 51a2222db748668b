"""Feeds and feed items as plain values (no I/O), their states and the refresh schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..domain.task import iso

# A feed's interval never gets shorter than this after failures; longer, up to a day.
MAX_BACKOFF_SECONDS = 24 * 3600
# How long a scheduled claim holds a feed out of the due index (a refresh that crashed is
# claimed again after this), and how long an item's enqueue claim holds.
REFRESH_LEASE_SECONDS = 600
ENQUEUE_LEASE_SECONDS = 120
REDACTED = "***"


class ItemState(StrEnum):
    NEW = "new"  # seen, not judged yet
    MATCHED = "matched"  # a rule took it; not enqueued yet
    EXCLUDED = "excluded"  # no rule took it
    ENQUEUED = "enqueued"  # a download was made for it (download_id)
    FAILED = "failed"  # the download could not be added (reason)


PENDING_STATES = frozenset({ItemState.NEW, ItemState.MATCHED})


@dataclass(frozen=True)
class FeedOptions:
    """What each new item of a feed becomes."""

    category: str | None = None
    tags: tuple[str, ...] = ()
    priority: int = 0
    batch_name: str | None = None  # all items in one named batch...
    batch_per_refresh: bool = False  # ...or one batch per refresh that enqueues something
    filename_prefix: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # sent to the feed's host (private feeds)

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> FeedOptions:
        raw = dict(raw or {})
        return cls(
            category=raw.get("category"), tags=tuple(raw.get("tags") or ()), priority=int(raw.get("priority") or 0),
            batch_name=raw.get("batch_name"), batch_per_refresh=bool(raw.get("batch_per_refresh")),
            filename_prefix=raw.get("filename_prefix"), headers=dict(raw.get("headers") or {}),
        )

    def stored(self) -> dict[str, Any]:
        return {"category": self.category, "tags": list(self.tags), "priority": self.priority,
                "batch_name": self.batch_name, "batch_per_refresh": self.batch_per_refresh,
                "filename_prefix": self.filename_prefix, "headers": dict(self.headers)}

    def view(self) -> dict[str, Any]:
        # Header values of a private feed are secrets: shown by name only.
        return {**self.stored(), "headers": {name: REDACTED for name in self.headers}}


@dataclass(frozen=True)
class Feed:
    id: str
    owner: str
    owner_name: str
    url: str
    name: str
    enabled: bool
    interval_minutes: int
    rules: list[dict[str, Any]]
    options: FeedOptions
    created_at: int
    updated_at: int
    next_refresh_at: int
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_refresh_at: int | None = None
    last_ok_at: int | None = None
    last_error: str | None = None
    failures: int = 0
    last_season: int | None = None
    last_episode: int | None = None
    items_seen: int = 0
    items_enqueued: int = 0
    batch_id: str | None = None

    @property
    def last_enqueued_episode(self) -> tuple[int, int] | None:
        if self.last_episode is None:
            return None
        return (self.last_season or 1, self.last_episode)

    def view(self) -> dict[str, Any]:
        status = "disabled" if not self.enabled else ("failing" if self.last_error else
                                                     ("ok" if self.last_ok_at else "pending"))
        return {
            "id": self.id, "owner": self.owner, "url": self.url, "name": self.name, "title": self.title,
            "enabled": self.enabled, "status": status, "interval_minutes": self.interval_minutes,
            "rules": self.rules, **self.options.view(),
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "last_refresh_at": iso(self.last_refresh_at), "last_ok_at": iso(self.last_ok_at),
            "last_error": self.last_error, "failures": self.failures,
            "next_refresh_at": iso(self.next_refresh_at) if self.enabled else None,
            "last_episode": ({"season": self.last_season or 1, "episode": self.last_episode}
                             if self.last_episode is not None else None),
            "items_seen": self.items_seen, "items_enqueued": self.items_enqueued,
        }


@dataclass(frozen=True)
class FeedItem:
    feed_id: str
    key: str
    owner: str
    guid: str
    title: str
    link: str | None
    url: str | None
    size: int | None
    published_at: int | None
    state: ItemState
    seen_at: int
    updated_at: int
    meta: dict[str, Any] = field(default_factory=dict)
    rule: str | None = None
    reason: str | None = None
    download_id: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "id": self.key, "feed_id": self.feed_id, "guid": self.guid, "title": self.title, "link": self.link,
            "url": self.url, "size": self.size, "published_at": iso(self.published_at), "state": self.state.value,
            "rule": self.rule, "reason": self.reason, "download_id": self.download_id, "metadata": self.meta,
            "seen_at": iso(self.seen_at), "updated_at": iso(self.updated_at),
        }


def next_refresh(now_ms: int, interval_seconds: float, failures: int) -> int:
    """When a feed is next due: one interval after a success; after ``failures`` failures in a
    row, the interval doubled for each failure after the first, at most a day (or the
    interval, when that is longer)."""
    if failures <= 0:
        return now_ms + int(interval_seconds * 1000)
    delay = min(interval_seconds * 2 ** (min(failures, 20) - 1), max(interval_seconds, MAX_BACKOFF_SECONDS))
    return now_ms + int(delay * 1000)


def due_key(next_refresh_at: int, feed_id: str) -> str:
    return f"{next_refresh_at:013d}#{feed_id}"
