"""Candidate files as plain values: read with guessit, matched to the wanted title, grouped by
episode (no I/O)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..feeds.parsing import metadata as guess

FEED = "feed"
INDEXER = "indexer"


@dataclass(frozen=True)
class Candidate:
    title: str  # the release name as the source gave it
    url: str
    size: int | None
    origin: str  # feed or indexer
    origin_name: str  # the feed's name or the indexer's
    guessed_title: str | None = None
    year: int | None = None
    season: int | None = None
    episodes: tuple[int, ...] = ()
    resolution: str | None = None
    group: str | None = None
    quality_source: str | None = None  # Web, Blu-ray, HDTV... (guessit's source)
    codec: str | None = None
    origin_id: str | None = None  # the feed's id
    extra: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return {
            "title": self.title, "url": self.url, "size": self.size, "quality": self.resolution,
            "source": {"type": self.origin, "name": self.origin_name, "id": self.origin_id},
            "quality_source": self.quality_source, "group": self.group, "codec": self.codec,
            "season": self.season, "episodes": list(self.episodes),
        }


def _ints(value: Any) -> tuple[int, ...]:
    values = value if isinstance(value, list) else [value]
    return tuple(sorted({v for v in values if isinstance(v, int) and not isinstance(v, bool)}))


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value not in (None, "") else None


def read(title: str, url: str, size: int | None, origin: str, origin_name: str, meta: dict[str, Any] | None = None,
         origin_id: str | None = None) -> Candidate:
    """A candidate from a release name (``meta``: what guessit read already, e.g. a feed item's)."""
    found = meta if meta else guess(title)
    seasons = _ints(found.get("season"))
    return Candidate(
        title=title, url=url, size=size, origin=origin, origin_name=origin_name, origin_id=origin_id,
        guessed_title=_text(found.get("title")), year=_ints(found.get("year"))[0] if _ints(found.get("year")) else None,
        season=seasons[0] if len(seasons) == 1 else None, episodes=_ints(found.get("episode")),
        resolution=_text(found.get("screen_size")), group=_text(found.get("release_group")),
        quality_source=_text(found.get("source")), codec=_text(found.get("video_codec")),
    )


def normal(text: str | None) -> str:
    """A title compared loosely: accents, case, punctuation and ``&``/``and`` do not matter."""
    folded = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().casefold()
    folded = folded.replace("&", " and ")
    return re.sub(r"[^a-z0-9]+", "", folded)


def same_title(candidate: Candidate, titles: Iterable[str], year: int | None = None) -> bool:
    """Whether guessit's title of ``candidate`` is one of ``titles`` (a title followed by the
    year, as in "Show 2008", counts too); a year guessit read must be ``year`` when one is given."""
    got = normal(candidate.guessed_title)
    if not got:
        return False
    wanted = {normal(t) for t in titles if normal(t)}
    if year is not None:
        if candidate.year is not None and candidate.year != year:
            return False
        wanted |= {w + str(year) for w in wanted}
    return got in wanted


@dataclass
class Grouped:
    episodes: dict[int, list[Candidate]]  # episode number -> candidates that contain it
    packs: list[Candidate]  # whole-season files (no episode number)
    unmatched: int  # candidates of another title or season


def group_by_episode(
    candidates: Iterable[Candidate],
    titles: Iterable[str],
    season: int,
    episode_numbers: Iterable[int],
    year: int | None = None,
) -> Grouped:
    """Each candidate of the title's ``season`` under every episode it contains."""
    wanted = list(titles)
    numbers = set(episode_numbers)
    grouped = Grouped({n: [] for n in sorted(numbers)}, [], 0)
    seen: set[str] = set()
    for c in candidates:
        if c.url in seen:
            continue
        seen.add(c.url)
        if not same_title(c, wanted, year if c.year is not None else None) or c.season != season:
            grouped.unmatched += 1
            continue
        if not c.episodes:
            grouped.packs.append(c)
            continue
        hit = [n for n in c.episodes if n in numbers]
        if not hit:
            grouped.unmatched += 1
        for n in hit:
            grouped.episodes[n].append(c)
    return grouped


def movie_candidates(
    candidates: Iterable[Candidate], titles: Iterable[str], year: int | None
) -> tuple[list[Candidate], int]:
    """The candidates of a film (no season or episode), and how many others there were."""
    wanted = list(titles)
    found: list[Candidate] = []
    other = 0
    seen: set[str] = set()
    for c in candidates:
        if c.url in seen:
            continue
        seen.add(c.url)
        if same_title(c, wanted, year) and c.season is None and not c.episodes:
            found.append(c)
        else:
            other += 1
    return found, other
