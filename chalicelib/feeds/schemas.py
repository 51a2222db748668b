"""Request and response models of the feeds API (validation and the OpenAPI document)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from ..api.responses import _Out
from ..api.schemas import _Strict
from ..downloads.schemas import AddDownload, Priority

MAX_RULES = 50
MatchOn = Literal["title", "link"]
MAX_PATTERNS = 50


def _title_only() -> list[MatchOn]:
    return ["title"]


class RuleIn(_Strict):
    name: str | None = Field(default=None, max_length=100, description="shown as the rule that matched an item")
    include: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS,
                               description="an item is taken if any of these is found (none: every item)")
    exclude: list[str] = Field(default_factory=list, max_length=MAX_PATTERNS,
                               description="an item is refused if any of these is found")
    regex: bool = Field(default=False, description="patterns are RE2 regular expressions, not keywords")
    case_sensitive: bool = False
    match_on: list[MatchOn] = Field(default_factory=_title_only, min_length=1, max_length=2,
                                    description="what the patterns look at")
    min_size: int | None = Field(default=None, ge=0, le=2**53, description="bytes (items of unknown size pass)")
    max_size: int | None = Field(default=None, ge=0, le=2**53, description="bytes (items of unknown size pass)")
    min_season: int | None = Field(default=None, ge=0, le=10_000, description="season at least this (from the title)")
    new_episodes_only: bool = Field(default=False,
                                    description="only episodes past the last one this feed enqueued")


def _check_url(value: str) -> str:
    return AddDownload._url(value)


class _ItemOptions(_Strict):
    category: str | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=20)
    priority: Priority | None = None
    batch_name: str | None = Field(default=None, min_length=1, max_length=200,
                                   description="every item joins one batch of this name")
    batch_per_refresh: bool | None = Field(default=None, description="one new batch per refresh that enqueues")
    filename_prefix: str | None = Field(default=None, max_length=100, description="put before each file's name")
    headers: dict[str, str] | None = Field(default=None, description="sent to the feed's host (private feeds)")

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else AddDownload._headers(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else AddDownload._tags(value)


class Subscribe(_ItemOptions):
    url: str = Field(min_length=1, max_length=2048)
    name: str | None = Field(default=None, min_length=1, max_length=200, description="default: the feed's host")
    enabled: bool = True
    interval_minutes: int = Field(default=30, ge=1, le=10080)
    rules: list[RuleIn] = Field(default_factory=list, max_length=MAX_RULES)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)


class PatchFeed(_ItemOptions):
    url: str | None = Field(default=None, min_length=1, max_length=2048)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    enabled: bool | None = None
    interval_minutes: int | None = Field(default=None, ge=1, le=10080)
    rules: list[RuleIn] | None = Field(default=None, max_length=MAX_RULES)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class BulkFeeds(_Strict):
    action: Literal["enable", "disable", "delete", "refresh"]
    ids: list[str] = Field(min_length=1, max_length=100)


class RefreshFeeds(_Strict):
    ids: list[str] | None = Field(default=None, min_length=1, max_length=500,
                                  description="these feeds only (default: all of yours; an admin's: everyone's)")


class Analyse(_Strict):
    url: str = Field(min_length=1, max_length=2048)
    rules: list[RuleIn] = Field(default_factory=list, max_length=MAX_RULES)
    headers: dict[str, str] | None = None
    limit: int = Field(default=200, ge=1, le=500, description="items shown (the newest first, as the feed lists them)")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else AddDownload._headers(value)


class FeedListQuery(_Strict):
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)


class ItemsQuery(_Strict):
    state: Literal["new", "matched", "excluded", "enqueued", "failed"] | None = None
    per_page: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)


class SearchQuery(_Strict):
    q: str = Field(min_length=1, max_length=200)
    feed_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[0-9A-Za-z-]+$")
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)


# -- answers ------------------------------------------------------------------------------------


class RuleOut(_Out):
    name: str | None
    include: list[str]
    exclude: list[str]
    regex: bool
    case_sensitive: bool
    match_on: list[str]
    min_size: int | None
    max_size: int | None
    min_season: int | None
    new_episodes_only: bool


class Episode(_Out):
    season: int
    episode: int


class FeedView(_Out):
    id: str
    owner: str
    url: str
    name: str
    title: str | None = Field(description="the feed's own title (text, never HTML)")
    enabled: bool
    status: Literal["pending", "ok", "failing", "disabled"]
    interval_minutes: int
    rules: list[RuleOut]
    category: str | None
    tags: list[str]
    priority: int
    batch_name: str | None
    batch_per_refresh: bool
    filename_prefix: str | None
    headers: dict[str, str] = Field(description="header names; values are never shown")
    created_at: str | None
    updated_at: str | None
    last_refresh_at: str | None
    last_ok_at: str | None
    last_error: str | None
    failures: int
    next_refresh_at: str | None
    last_episode: Episode | None
    items_seen: int
    items_enqueued: int


class FeedPage(_Out):
    feeds: list[FeedView]
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None


class ItemView(_Out):
    id: str
    feed_id: str
    guid: str
    title: str = Field(description="text, never HTML")
    link: str | None
    url: str | None = Field(description="what a download of the item fetches: its enclosure, else its link")
    size: int | None
    published_at: str | None
    state: Literal["new", "matched", "excluded", "enqueued", "failed"]
    rule: str | None
    reason: str | None
    download_id: str | None
    metadata: dict[str, Any]
    seen_at: str | None
    updated_at: str | None


class ItemPage(_Out):
    items: list[ItemView]
    total: int
    page: int
    per_page: int
    pages: int
    next_cursor: str | None


class SearchPage(_Out):
    items: list[ItemView]
    per_page: int
    next_cursor: str | None = Field(description="the next page's cursor (the total is not counted: a text filter)")


class Verdict(_Out):
    matched: bool
    rule: str | None
    reason: str


class AnalysedItem(_Out):
    guid: str
    title: str
    link: str | None
    url: str | None
    size: int | None
    published_at: str | None
    metadata: dict[str, Any]
    verdict: Verdict


class Analysis(_Out):
    url: str
    title: str | None
    items: list[AnalysedItem]
    total_items: int
    matched: int
    malformed: str | None = Field(description="why the feed is not well-formed XML, when it is not")


class FeedRefreshed(_Out):
    feed_id: str
    status: Literal["ok", "not_modified", "failed", "queued", "skipped"]
    found: int = Field(description="items in the feed")
    new: int = Field(description="items never seen before")
    matched: int
    enqueued: int
    download_ids: list[str]
    error: str | None


class RefreshReport(_Out):
    feeds: list[FeedRefreshed]
    found: int
    new: int
    matched: int
    enqueued: int
    failed: int
    queued: int


class BulkFeedResult(_Out):
    id: str
    ok: bool
    error: str | None


class BulkFeedsAnswer(_Out):
    action: str
    results: list[BulkFeedResult]
    succeeded: int
    failed: int


class CollectAnswer(_Out):
    feed_id: str
    matched: int
    enqueued: int
    download_ids: list[str]
    failed: int


class AutomationView(_Out):
    running: bool
    changed_at: str | None
    changed_by: str | None
    last_tick_at: str | None
    last_tick_claimed: int | None
    next_refresh_at: str | None
    feeds: int
    enabled_feeds: int


class FeedDeleted(_Out):
    id: str
    deleted: bool
