"""A Torznab/Newznab-compatible indexer's search API (Jackett, Prowlarr, NZB indexers).

``GET <url>?t=tvsearch&q=<title>&season=<n>&apikey=<key>&cat=<categories>`` (``t=movie`` for
films, ``t=search`` as the fallback) answers RSS 2.0 whose items carry the size in
``<size>``, the enclosure's ``length`` or a ``torznab:attr``/``newznab:attr`` named ``size``.
An indexer's error is an ``<error code=".." description=".."/>`` document.

Only direct HTTP(S) links can be downloaded by Haul: an item whose enclosure and link are
both something else (a ``magnet:`` URI) is counted and left out. The XML is read with
defusedxml: no DTD, no entities, no external references.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree
from requests.utils import requote_uri

from ..metadata.providers.errors import ProviderFailed
from ..metadata.providers.http import Call, ProviderHttp
from ..metadata.providers.models import IndexerSettings

ACCEPT = "application/rss+xml, application/xml;q=0.9, text/xml;q=0.9"
MAX_ITEMS = 500
TV_CATEGORIES = (5000,)
MOVIE_CATEGORIES = (2000,)
_ATTR_TAGS = ("{http://torznab.com/schemas/2015/feed}attr",
              "{http://www.newznab.com/DTD/2010/feeds/attributes/}attr")


class SearchUnsupported(ProviderFailed):
    """The indexer has no such search function (Newznab error 202/203): ``t=search`` instead."""


@dataclass(frozen=True)
class IndexerItem:
    title: str
    url: str  # a direct http(s) link
    size: int | None
    guid: str
    seeders: int | None


@dataclass(frozen=True)
class IndexerAnswer:
    items: list[IndexerItem]
    unusable: int  # items with no direct http(s) link (magnet: URIs...)


def _http(value: Any) -> str | None:
    text = str(value or "").strip()
    return requote_uri(text) if text.lower().startswith(("http://", "https://")) else None


def _int(value: Any) -> int | None:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n >= 0 else None


def parse(body: bytes, name: str) -> IndexerAnswer:
    try:
        root = defusedxml.ElementTree.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise ProviderFailed(f"indexer {name}: its answer declares a DTD or entities, which Haul never reads") from None
    except (ParseError, ValueError, UnicodeError) as exc:
        raise ProviderFailed(f"indexer {name}: its answer is not XML ({exc})") from None
    if root.tag == "error":
        if root.get("code") in ("202", "203"):
            raise SearchUnsupported(f"indexer {name}: {root.get('description') or 'function not available'}")
        raise ProviderFailed(f"indexer {name} refused the search: {root.get('description') or root.get('code')}")
    channel = root.find("channel")
    if root.tag != "rss" or channel is None:
        raise ProviderFailed(f"indexer {name}: its answer is not an RSS search result")
    items: list[IndexerItem] = []
    unusable = 0
    for element in channel.findall("item")[:MAX_ITEMS]:
        item = _item(element)
        if item is None:
            unusable += 1
        else:
            items.append(item)
    return IndexerAnswer(items, unusable)


def _item(element: Element) -> IndexerItem | None:
    attrs = {a.get("name", ""): a.get("value", "") for tag in _ATTR_TAGS for a in element.iter(tag)}
    enclosure = element.find("enclosure")
    url = _http(enclosure.get("url") if enclosure is not None else None) or _http(element.findtext("link"))
    if url is None:
        return None
    size = _int(attrs.get("size")) or _int(element.findtext("size")) or (
        _int(enclosure.get("length")) if enclosure is not None else None)
    title = " ".join((element.findtext("title") or "").split())[:500]
    return IndexerItem(title=title or url, url=url, size=size or None,
                       guid=(element.findtext("guid") or url).strip()[:2048], seeders=_int(attrs.get("seeders")))


class IndexerClient:
    def __init__(self, http: ProviderHttp, settings: IndexerSettings, api_key: str) -> None:
        self.http = http
        self.settings = settings
        self._key = api_key
        http.check(f"indexer {settings.name}", f"indexers.{settings.name}.url", settings.url)

    @property
    def name(self) -> str:
        return self.settings.name

    def search(self, query: str, kind: str, season: int | None = None, year: int | None = None) -> IndexerAnswer:
        """Items for ``query``: a TV search by season, a movie search, or a plain one (also
        when the indexer has no TV or movie search)."""
        try:
            return self._search(query, kind, season, year)
        except SearchUnsupported:
            if kind not in ("tv", "movie"):
                raise
        words = f"{query} S{season:02d}" if kind == "tv" and season is not None else (
            f"{query} {year}" if kind == "movie" and year else query)
        return self._search(words, "plain", None, None)

    def _search(self, query: str, kind: str, season: int | None, year: int | None) -> IndexerAnswer:
        params: dict[str, Any] = {"q": query, "limit": 100}
        if kind == "tv":
            params["t"] = "tvsearch"
            if season is not None:
                params["season"] = season
            default: tuple[int, ...] = TV_CATEGORIES
        elif kind == "movie":
            params["t"] = "movie"
            if year:
                params["year"] = year
            default = MOVIE_CATEGORIES
        else:
            params["t"] = "search"
            default = ()
        categories = self.settings.categories or default
        if categories:
            params["cat"] = ",".join(str(c) for c in categories)
        call = Call(provider=f"indexer {self.name}", url=self.settings.url, params=params,
                    secret_params={"apikey": self._key} if self._key else {},
                    requests_per_second=self.settings.requests_per_second, cache_seconds=self.settings.cache_seconds,
                    pace=f"indexer-{self.name}")
        return parse(self.http.get_text(call, ACCEPT), self.name)
