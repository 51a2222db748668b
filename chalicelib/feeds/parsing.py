"""Reading a feed body: RSS 0.9x/1.0/2.0 and Atom through feedparser, behind an XML guard.

The guard first reads the body with defusedxml, refusing any document that declares entities
or refers to external ones (billion laughs, quadratic blow-up, XXE), before feedparser sees
it. feedparser itself is given bytes, never a URL (it would fetch it), and it does not expand
declared entities either (tests/functional/test_feeds_fetch.py checks both layers). A body
that is not well-formed XML is still read by feedparser's forgiving parser, once a plain
search has found no entity declaration in it.

Item metadata (title, season, episode, resolution, group...) comes from the item's title
with guessit.
"""

from __future__ import annotations

import calendar
import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
import feedparser
from requests.utils import requote_uri

from ..domain.task import iso

MAX_ITEMS = 5000
# What guessit finds that a person or a rule cares about (its other keys are noise here).
META_KEYS = (
    "title", "season", "episode", "year", "screen_size", "release_group", "source", "video_codec",
    "audio_codec", "container", "type", "episode_title", "language", "subtitle_language",
)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)


class FeedRefused(ValueError):
    """A body Haul will not read as a feed; the message says why."""


@dataclass(frozen=True)
class ParsedItem:
    guid: str
    title: str
    link: str | None
    url: str | None  # what a download of the item fetches: its enclosure, else its link
    size: int | None
    published_at: int | None  # epoch ms

    @property
    def key(self) -> str:
        """The item's identity in its feed: a digest of its GUID."""
        return hashlib.sha256(self.guid.encode()).hexdigest()[:32]

    def view(self) -> dict[str, Any]:
        return {"guid": self.guid, "title": self.title, "link": self.link, "url": self.url, "size": self.size,
                "published_at": iso(self.published_at)}


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    items: list[ParsedItem] = field(default_factory=list)
    malformed: str | None = None  # why the strict XML parser gave up, when it did
    truncated: bool = False


def guard(body: bytes) -> None:
    """Raise FeedRefused if ``body`` declares XML entities or refers to external ones."""
    try:
        defusedxml.ElementTree.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise FeedRefused(
            f"the feed's XML declares entities or external references, which Haul never reads ({exc})"
        ) from None
    except (ParseError, ValueError, UnicodeError):
        # Not well-formed (or not XML at all): the forgiving parser will read it, unless it
        # declares entities somewhere (in any of the encodings a feed may use).
        if _ENTITY_DECL.search(body) or _ENTITY_DECL.search(body.replace(b"\x00", b"")):
            raise FeedRefused("the feed declares XML entities, which Haul never reads") from None


def _http(url: Any) -> str | None:
    """An http(s) URL as a download can take it (feeds leave spaces and the like unquoted)."""
    if isinstance(url, str) and url.strip().lower().startswith(("http://", "https://")):
        return requote_uri(url.strip())
    return None


def _size(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def _time(entry: Any) -> int | None:
    for key in ("published_parsed", "updated_parsed"):
        value = entry.get(key)
        if value:
            return int(calendar.timegm(value)) * 1000
    return None


def _item(entry: Any) -> ParsedItem | None:
    link = _http(entry.get("link"))
    enclosure, size = None, None
    for enc in entry.get("enclosures") or []:
        href = _http(enc.get("href") or enc.get("url"))
        if href:
            enclosure, size = href, _size(enc.get("length"))
            break
    title = " ".join(str(entry.get("title") or "").split())
    guid = str(entry.get("id") or "").strip() or link or enclosure
    if not guid:
        return None
    return ParsedItem(guid=guid[:2048], title=title[:1000] or (enclosure or link or guid)[:1000], link=link,
                      url=enclosure or link, size=size, published_at=_time(entry))


def parse(body: bytes, base_url: str, content_type: str | None = None) -> ParsedFeed:
    """The feed in ``body`` (fetched from ``base_url``, which relative links resolve against)."""
    guard(body)
    headers = {"content-location": base_url}
    if content_type:
        headers["content-type"] = content_type
    # A file-like object: feedparser reads it and never fetches anything itself.
    data = feedparser.parse(io.BytesIO(body), response_headers=headers, resolve_relative_uris=True,
                            sanitize_html=True)
    version = data.get("version") or ""
    if not version and not data.entries:
        why = data.get("bozo_exception")
        raise FeedRefused(f"this is not an RSS or Atom feed{f' ({why})' if why else ''}")
    items: list[ParsedItem] = []
    seen: set[str] = set()
    for entry in data.entries[:MAX_ITEMS]:
        item = _item(entry)
        if item is not None and item.key not in seen:
            seen.add(item.key)
            items.append(item)
    malformed = (
        str(data.get("bozo_exception")) if data.get("bozo") and not version.startswith(("rss", "atom")) else None
    )
    title = " ".join(str(data.feed.get("title") or "").split()) or None
    return ParsedFeed(title=title, items=items, malformed=malformed, truncated=len(data.entries) > MAX_ITEMS)


def _plain(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def metadata(title: str) -> dict[str, Any]:
    """What guessit reads in an item's title (season, episode, resolution, group...)."""
    from guessit import guessit  # imported on first use: it builds its rules at import (docs/performance.md)

    try:
        found = guessit(title)
    except Exception:  # noqa: BLE001 - a title guessit cannot read has no metadata
        return {}
    return {key: _plain(found[key]) for key in META_KEYS if key in found}


def season_episode(meta: dict[str, Any]) -> tuple[int | None, int | None]:
    """The (season, episode) in guessit's answer; a range of episodes counts as its last."""

    def one(value: Any, last: bool) -> int | None:
        if isinstance(value, list):
            numbers = [v for v in value if isinstance(v, int)]
            return (max(numbers) if last else min(numbers)) if numbers else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return one(meta.get("season"), False), one(meta.get("episode"), True)
