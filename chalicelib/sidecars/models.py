"""What an NFO file says, as plain values (no I/O): a show, a movie, an episode.

Filled from TMDB's JSON (:mod:`.tmdb`), turned into XML by :mod:`.nfo`. Every field is
optional except the title and the TMDB id: an NFO with less is still one Kodi reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    TV = "tv"
    MOVIE = "movie"


class Art(StrEnum):
    """The artwork written next to an NFO, named as Kodi and Jellyfin find local art in a
    show's or a movie's folder (``<type>.<ext>``)."""

    POSTER = "poster"
    FANART = "fanart"
    LOGO = "clearlogo"


@dataclass(frozen=True)
class Rating:
    value: float
    votes: int = 0
    name: str = "themoviedb"
    max: int = 10


@dataclass(frozen=True)
class Person:
    name: str
    role: str | None = None
    order: int | None = None


@dataclass(frozen=True)
class Artwork:
    """Remote art (TMDB's image URLs) named in the NFO as well as stored beside it."""

    poster: str | None = None
    fanart: str | None = None
    logo: str | None = None


@dataclass(frozen=True)
class TitleInfo:
    """What a series' and a movie's NFO both say."""

    tmdb_id: int
    title: str
    original_title: str | None = None
    plot: str | None = None
    tagline: str | None = None
    premiered: str | None = None  # yyyy-mm-dd
    runtime: int | None = None  # minutes (a series: an episode's)
    imdb_id: str | None = None
    rating: Rating | None = None
    genres: tuple[str, ...] = ()
    studios: tuple[str, ...] = ()
    actors: tuple[Person, ...] = ()
    art: Artwork = field(default_factory=Artwork)

    @property
    def year(self) -> int | None:
        return _year(self.premiered)


@dataclass(frozen=True)
class ShowInfo(TitleInfo):
    status: str | None = None
    tvdb_id: int | None = None
    seasons: tuple[tuple[int, str], ...] = ()  # (number, name)
    season_posters: tuple[tuple[int, str], ...] = ()  # (number, remote URL)


@dataclass(frozen=True)
class EpisodeInfo:
    season: int
    episode: int
    title: str
    tmdb_id: int | None = None
    plot: str | None = None
    aired: str | None = None  # yyyy-mm-dd
    runtime: int | None = None
    rating: Rating | None = None
    directors: tuple[str, ...] = ()
    writers: tuple[str, ...] = ()
    still: str | None = None  # remote thumbnail URL


@dataclass(frozen=True)
class MovieInfo(TitleInfo):
    countries: tuple[str, ...] = ()
    collection: str | None = None
    directors: tuple[str, ...] = ()


def _year(date: str | None) -> int | None:
    if date and len(date) >= 4 and date[:4].isdigit():
        return int(date[:4])
    return None


@dataclass(frozen=True)
class MediaFile:
    """A completed download of the owner's library: its object and what it is of a title."""

    download_id: str
    key: str
    season: int | None = None
    episode: int | None = None
    size: int | None = None


@dataclass(frozen=True)
class Title:
    """A series or a movie the owner has files of (the unit the NFO endpoints work on)."""

    kind: Kind
    tmdb_id: int
    title: str | None = None
    year: int | None = None


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: str  # ISO 8601, UTC
