"""Which candidate file smart grab takes for an episode: a pure ranking by a quality preference.

A candidate is refused when its release group is one to avoid, or its size is known and
outside the bounds. The others are ranked, best first, by:

1. resolution: its place in the preferred list (one not in the list comes after all of them;
   an unknown resolution last);
2. a preferred release group before the rest;
3. source (Web, Blu-ray, HDTV...): its place in the preferred list;
4. a known size before an unknown one, then the larger (more bitrate at the same resolution);
5. the title, so the choice never depends on the order the sources answered in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Ranked(Protocol):
    @property
    def title(self) -> str: ...

    @property
    def size(self) -> int | None: ...

    @property
    def resolution(self) -> str | None: ...

    @property
    def group(self) -> str | None: ...

    @property
    def quality_source(self) -> str | None: ...


C = TypeVar("C", bound=Ranked)


@dataclass(frozen=True)
class Preference:
    resolutions: Sequence[str] = ("1080p", "720p", "2160p", "480p")
    min_size: int = 0  # 0: no lower bound
    max_size: int = 0  # 0: no upper bound
    prefer_groups: Sequence[str] = ()
    avoid_groups: Sequence[str] = ()
    prefer_sources: Sequence[str] = ("Web", "Blu-ray", "HDTV")


def _folded(values: Iterable[str]) -> list[str]:
    return [v.strip().casefold() for v in values if v and v.strip()]


def refusal(candidate: Ranked, pref: Preference) -> str | None:
    """Why ``candidate`` may not be picked at all; None when it may."""
    group = (candidate.group or "").casefold()
    if group and group in _folded(pref.avoid_groups):
        return f"release group {candidate.group} is avoided"
    if candidate.size is not None:
        if pref.min_size and candidate.size < pref.min_size:
            return f"smaller than {pref.min_size} bytes"
        if pref.max_size and candidate.size > pref.max_size:
            return f"larger than {pref.max_size} bytes"
    return None


def rank_key(candidate: Ranked, pref: Preference) -> tuple[int, int, int, int, int, str]:
    """The sort key of a candidate that is not refused (smaller is better)."""
    resolutions = _folded(pref.resolutions)
    resolution = (candidate.resolution or "").casefold()
    if not resolution:
        by_resolution = len(resolutions) + 1
    else:
        by_resolution = resolutions.index(resolution) if resolution in resolutions else len(resolutions)
    preferred = 0 if (candidate.group or "").casefold() in _folded(pref.prefer_groups) and candidate.group else 1
    sources = _folded(pref.prefer_sources)
    source = (candidate.quality_source or "").casefold()
    by_source = sources.index(source) if source in sources else len(sources)
    size = candidate.size
    return (by_resolution, preferred, by_source, 0 if size is not None else 1, -(size or 0), candidate.title)


def ranked(candidates: Iterable[C], pref: Preference) -> list[C]:
    """The candidates that may be picked, best first."""
    allowed = [c for c in candidates if refusal(c, pref) is None]
    return sorted(allowed, key=lambda c: rank_key(c, pref))


def best(candidates: Iterable[C], pref: Preference) -> C | None:
    """The candidate to take, or None when every one is refused (or there is none)."""
    order = ranked(candidates, pref)
    return order[0] if order else None
