"""What a file name says it is, by guessit: offered as ``guessed``, never taken as metadata.

A download without metadata shows what guessit reads in its file name (title, year, season,
episode, resolution, release group) as ``guessed`` on ``GET /downloads/{id}``; nothing is
named or filtered by it until a person (or a client) sends it back as ``metadata``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from ..feeds.parsing import metadata as read_title
from ..feeds.parsing import season_episode


def guess(filename: str) -> dict[str, Any]:
    """The fields guessit finds in ``filename``, in the metadata's names where they exist
    (``title``, ``year``, ``season``, ``episode``, ``episode_title``, ``kind``) plus
    ``resolution`` and ``group``. Empty when it finds no title. Remembered per file name (a
    client polling one download pays guessit's cost once; figures in docs/performance.md)."""
    return dict(_guess(filename[:300]))


@lru_cache(maxsize=2048)
def _guess(filename: str) -> tuple[tuple[str, Any], ...]:
    found = read_title(filename)
    title = found.get("title")
    if not isinstance(title, str) or not title.strip():
        return ()
    season, episode = season_episode(found)
    out: dict[str, Any] = {
        "title": title.strip(),
        "year": found.get("year") if isinstance(found.get("year"), int) else None,
        "season": season,
        "episode": episode,
        "episode_title": found.get("episode_title") if isinstance(found.get("episode_title"), str) else None,
        "kind": "tv" if found.get("type") == "episode" and episode is not None else (
            "movie" if found.get("type") == "movie" and isinstance(found.get("year"), int) else None),
        "resolution": found.get("screen_size") if isinstance(found.get("screen_size"), str) else None,
        "group": found.get("release_group") if isinstance(found.get("release_group"), str) else None,
    }
    return tuple((name, value) for name, value in out.items() if value is not None)
