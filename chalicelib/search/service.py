"""Smart search and smart grab (Flasharr's): a TMDB season, candidate files from the caller's
feed items and the configured indexers, the best file per episode, one batch.

Search: TMDB gives the title, year and the season's episodes (by ``tmdb_id``, or the first
series/film TMDB finds for ``title`` and ``year``). The candidates are the caller's own feed
items whose title or links contain the title (a query on the owner's index, not a scan) and
what every enabled indexer answers to a season search (side by side, each failure reported
per source rather than failing the search). Each candidate is read with guessit and kept
under every episode of the season it contains; whole-season files are listed apart.

Grab: per episode, the best candidate by the quality preference (chalicelib/domain/quality.py),
a file holding several episodes covering all of them; one batch with every picked file, each
with its metadata (TMDB id, title, year, season, episode, episode title) so the naming
template files it where a media library expects it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..api.errors import ApiError, Forbidden, NotFound
from ..api.schemas import parse
from ..auth.identity import Identity, Role
from ..domain import quality
from ..downloads.batches import BatchService
from ..feeds.service import FeedService
from ..metadata.providers.http import ProviderHttp
from ..metadata.providers.models import EpisodeInfo, QualityPreference
from ..metadata.providers.service import ProviderService, quality_with
from .candidates import FEED, INDEXER, Candidate, group_by_episode, movie_candidates, normal, read
from .indexer import IndexerClient
from .schemas import SmartGrab, SmartSearch

FEED_ITEMS_PER_QUERY = 300
MAX_INDEXERS_AT_ONCE = 4
# How long the sources may take together: API Gateway ends a request at 29 s, and TMDB's
# lookups and the batch come before and after. A source still searching then is reported as
# such (its thread ends with its own read timeout) and the answer is made of the others.
SOURCES_BUDGET_SECONDS = 15.0


@dataclass(frozen=True)
class Target:
    """What is searched for: a film, or one season of a series with its episodes."""

    kind: str
    tmdb_id: int
    title: str
    original_title: str | None
    year: int | None
    imdb_id: str | None
    season: int | None
    episodes: list[EpisodeInfo]

    @property
    def titles(self) -> list[str]:
        return [t for t in (self.title, self.original_title) if t]


@dataclass
class Found:
    candidates: list[Candidate]
    sources: list[dict[str, Any]]


def preference(settings: QualityPreference) -> quality.Preference:
    return quality.Preference(
        resolutions=settings.resolutions, min_size=settings.min_size, max_size=settings.max_size,
        prefer_groups=settings.prefer_groups, avoid_groups=settings.avoid_groups,
        prefer_sources=settings.prefer_sources,
    )


def search_word(title: str) -> str:
    """The one word of ``title`` the feed search looks for: its longest (release names write the
    spaces between words as dots, underscores or dashes, so the whole title would miss them)."""
    words = re.findall(r"[^\W_]+", title.lower())
    return max(words, key=len) if words else title.lower().strip()


def mentions(release: str, titles: list[str]) -> bool:
    """Whether a release name contains one of the titles, compared loosely (a cheap filter
    before guessit reads it)."""
    name = normal(release)
    return any(normal(t) and normal(t) in name for t in titles)


class SmartSearchService:
    def __init__(self, providers: ProviderService, feeds: FeedService, batches: BatchService,
                 http: ProviderHttp) -> None:
        self.providers = providers
        self.feeds = feeds
        self.batches = batches
        self.http = http
        self.budget_seconds = SOURCES_BUDGET_SECONDS

    # -- search ----------------------------------------------------------------------------
    def search(self, who: Identity, body: Any) -> dict[str, Any]:
        req: SmartSearch = parse(SmartSearch, body)
        target = self._target(req)
        found = self._gather(who, target, req.sources)
        return self._answer(target, found, preference(self.providers.quality()), self._shown())

    def _target(self, req: SmartSearch) -> Target:
        tmdb = self.providers.tmdb()  # 503 naming tmdb.api_key when it is not configured
        tmdb_id = req.tmdb_id
        if tmdb_id is None:
            matches = tmdb.search(req.title or "", req.kind, req.year, limit=10)
            if not matches:
                what = f"{req.title!r}" + (f" ({req.year})" if req.year else "")
                raise NotFound(f"TMDB knows no {'series' if req.kind == 'tv' else 'film'} called {what}")
            exact = [m for m in matches if normal(m.title) == normal(req.title)]
            tmdb_id = int((exact or matches)[0].id)
        details = tmdb.details(req.kind, tmdb_id)
        season = None
        episodes: list[EpisodeInfo] = []
        if req.kind == "tv":
            season = 1 if req.season is None else req.season
            episodes = tmdb.season(tmdb_id, season).episodes
        return Target(kind=req.kind, tmdb_id=tmdb_id, title=details.title, original_title=details.original_title,
                      year=details.year, imdb_id=details.imdb_id, season=season, episodes=episodes)

    def _gather(self, who: Identity, target: Target, sources: Sequence[str]) -> Found:
        found = Found([], [])
        jobs: list[tuple[dict[str, Any], Callable[[], list[Candidate]]]] = []
        if "feeds" in sources:
            jobs.append(({"type": "feeds", "name": "your feeds"}, lambda: list(self._feed_candidates(who, target))))
        if "indexers" in sources:
            for settings, key in self.providers.indexers():
                def run(s: Any = settings, k: str = key) -> list[Candidate]:
                    return self._indexer_candidates(IndexerClient(self.http, s, k), target)
                jobs.append(({"type": "indexer", "name": settings.name}, run))
        if not jobs:
            return found
        pool = ThreadPoolExecutor(max_workers=min(MAX_INDEXERS_AT_ONCE, len(jobs)))
        deadline = time.monotonic() + self.budget_seconds
        try:
            futures = [(source, pool.submit(job)) for source, job in jobs]
            for source, future in futures:
                try:
                    got = future.result(timeout=max(0.0, deadline - time.monotonic()))
                    found.candidates.extend(got)
                    found.sources.append({**source, "found": len(got), "error": None})
                except ApiError as exc:
                    found.sources.append({**source, "found": 0, "error": exc.message})
                except FutureTimeout:
                    found.sources.append({**source, "found": 0,
                                          "error": f"did not answer within {self.budget_seconds:g} s"})
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return found

    def _feed_candidates(self, who: Identity, target: Target) -> Iterator[Candidate]:
        # The caller's own feeds, also for an admin (who would otherwise search everyone's).
        own = Identity(user_id=who.user_id, username=who.username, role=Role.USER)
        seen: set[tuple[str, str]] = set()
        names: dict[str, str] = {}
        # One query per title (on the owner's index, filtered on one word), then a loose match
        # of the whole title: only those are read with guessit.
        for word in dict.fromkeys(search_word(t) for t in target.titles):
            for item in self.feeds.search_stream(own, word, None, FEED_ITEMS_PER_QUERY):
                if (item.feed_id, item.key) in seen or not item.url or not mentions(item.title, target.titles):
                    continue
                seen.add((item.feed_id, item.key))
                if item.feed_id not in names:
                    try:
                        names[item.feed_id] = self.feeds.get(own, item.feed_id).name
                    except ApiError:
                        names[item.feed_id] = item.feed_id
                yield read(item.title, item.url, item.size, FEED, names[item.feed_id], item.meta or None,
                           origin_id=item.feed_id)

    def _indexer_candidates(self, client: IndexerClient, target: Target) -> list[Candidate]:
        answer = client.search(target.title, target.kind, target.season, target.year)
        return [read(i.title, i.url, i.size, INDEXER, client.name) for i in answer.items]

    def _shown(self) -> Callable[[str], str]:
        """How a candidate's URL is shown: without any indexer's key (Jackett's and Prowlarr's
        download links carry it). The download itself keeps the URL the indexer gave."""
        keys = [key for _, key in self.providers.indexers() if len(key) >= 4]

        def shown(url: str) -> str:
            for key in keys:
                url = url.replace(key, "***").replace(quote(key, safe=""), "***")
            return url

        return shown

    def _answer(self, target: Target, found: Found, pref: quality.Preference,
                shown: Callable[[str], str]) -> dict[str, Any]:
        base = {"tmdb_id": target.tmdb_id, "kind": target.kind, "title": target.title, "year": target.year,
                "season": target.season, "sources": found.sources}
        if target.kind == "movie":
            films, other = movie_candidates(found.candidates, target.titles, target.year)
            return {**base, "episodes": [], "candidates": _views(films, pref, shown), "season_packs": [],
                    "missing_episodes": [], "unmatched": other}
        assert target.season is not None
        grouped = group_by_episode(found.candidates, target.titles, target.season,
                                   [e.episode_number for e in target.episodes], target.year)
        episodes = []
        missing = []
        for e in target.episodes:
            views = _views(grouped.episodes.get(e.episode_number, []), pref, shown)
            if not any(v["best"] for v in views):
                missing.append(e.episode_number)
            episodes.append({"season": target.season, "episode": e.episode_number, "title": e.name,
                             "air_date": e.air_date, "candidates": views})
        return {
            **base,
            "episodes": episodes,
            "candidates": [],
            "season_packs": _views(grouped.packs, pref, shown, False),
            "missing_episodes": missing,
            "unmatched": grouped.unmatched,
        }

    # -- grab --------------------------------------------------------------------------------
    def grab(self, who: Identity, body: Any) -> dict[str, Any]:
        if not who.at_least(Role.USER):
            raise Forbidden(f"a {who.role.value} may search but not add downloads")
        req: SmartGrab = parse(SmartGrab, body)
        target = self._target(req)
        found = self._gather(who, target, req.sources)
        settings = self.providers.quality()
        pref = preference(quality_with(settings, req.quality) if req.quality is not None else settings)
        picks = self._picks(target, found, pref, req.episodes)
        wanted = self._wanted(target, req.episodes)
        covered = {n for _, numbers in picks for n in numbers}
        missing = [n for n in wanted if n not in covered]
        if not picks:
            raise NotFound(
                "no usable file was found for " + ("the film" if target.kind == "movie" else "any episode of "
                                                   f"season {target.season}"),
                [{"field": "episodes", "message": f"missing: {', '.join(map(str, missing))}"}] if missing else None)
        name = req.batch_name or (f"{target.title} S{target.season:02d}" if target.kind == "tv"
                                  else f"{target.title} ({target.year})" if target.year else target.title)
        items = [self._item(target, pick, numbers, req) for pick, numbers in picks]
        created = self.batches.create(who, {"name": name, "items": items})
        picked = []
        shown = self._shown()
        for (pick, numbers), result in zip(picks, created["results"], strict=True):
            picked.append({"episodes": numbers, "title": pick.title, "url": shown(pick.url), "size": pick.size,
                           "quality": pick.resolution, "source": {"type": pick.origin, "name": pick.origin_name},
                           "task_id": result["task_id"], "duplicate": result["duplicate"],
                           "error": result["error"]})
        return {"batch_id": created["batch"]["id"], "batch_name": name,
                "tasks_created": sum(1 for r in created["results"] if r["ok"] and not r["duplicate"]),
                "missing_episodes": missing, "picked": picked}

    @staticmethod
    def _wanted(target: Target, only: list[int] | None) -> list[int]:
        numbers = [e.episode_number for e in target.episodes]
        return [n for n in numbers if only is None or n in only]

    def _picks(self, target: Target, found: Found, pref: quality.Preference, only: list[int] | None,
               ) -> list[tuple[Candidate, list[int]]]:
        if target.kind == "movie":
            films, _ = movie_candidates(found.candidates, target.titles, target.year)
            best = quality.best(films, pref)
            return [(best, [])] if best else []
        assert target.season is not None
        wanted = self._wanted(target, only)
        grouped = group_by_episode(found.candidates, target.titles, target.season, wanted, target.year)
        picks: list[tuple[Candidate, list[int]]] = []
        covered: set[int] = set()
        for n in wanted:
            if n in covered:
                continue
            # A file holding episodes already picked would fetch them twice.
            options = [c for c in grouped.episodes.get(n, []) if not covered & set(c.episodes)]
            best = quality.best(options, pref)
            if best is None:
                continue
            numbers = [e for e in best.episodes if e in wanted]
            covered |= set(numbers)
            picks.append((best, numbers))
        return picks

    def _item(self, target: Target, pick: Candidate, numbers: list[int], req: SmartGrab) -> dict[str, Any]:
        """A batch item: the file, and the metadata the naming template files it by
        (chalicelib/metadata/naming.py: ``Title (Year)/Season 01/Title - S01E01.ext``)."""
        meta: dict[str, Any] = {"kind": target.kind, "tmdb_id": target.tmdb_id, "title": target.title}
        if target.year:
            meta["year"] = target.year
        if target.imdb_id:
            meta["imdb_id"] = target.imdb_id
        if target.kind == "tv" and numbers:
            meta["season"] = target.season
            meta["episode"] = numbers[0]
            episode = next((e for e in target.episodes if e.episode_number == numbers[0]), None)
            if episode and episode.name:
                meta["episode_title"] = episode.name
        item: dict[str, Any] = {"url": pick.url, "priority": req.priority, "metadata": meta}
        for name in ("category", "path", "naming"):
            if getattr(req, name):
                item[name] = getattr(req, name)
        return item

def _views(candidates: list[Candidate], pref: quality.Preference, shown: Callable[[str], str],
           pick: bool = True) -> list[dict[str, Any]]:
    """Candidates as the API shows them: the allowed ones best first (the first marked
    ``best``), then the refused ones with the reason."""
    order = quality.ranked(candidates, pref)
    refused = [c for c in candidates if quality.refusal(c, pref) is not None]
    views = [{**c.view(), "url": shown(c.url), "refused": None, "best": pick and i == 0} for i, c in enumerate(order)]
    views += [{**c.view(), "url": shown(c.url), "refused": quality.refusal(c, pref), "best": False}
              for c in sorted(refused, key=lambda c: c.title)]
    return views
