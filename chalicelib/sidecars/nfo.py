"""Kodi NFO files as XML, written with ElementTree (pure functions, no I/O).

Three documents (what Kodi's video library reads, and Jellyfin/Emby after it):

- ``tvshow.nfo`` in a series' folder, root ``<tvshow>``;
- ``<episode file name>.nfo`` beside each episode's video, root ``<episodedetails>``;
- ``movie.nfo`` in a movie's folder, root ``<movie>``.

Escaping is ElementTree's (``&``, ``<``, ``>``, and quotes in attributes). What XML 1.0 cannot
carry at all (control characters other than tab, newline and carriage return; lone surrogates;
U+FFFE/U+FFFF) is dropped from the text first, so a hostile title still gives a document every
parser reads. Each text is capped (:data:`MAX_TEXT`), so a provider's answer cannot make an
NFO of unbounded size.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable

from .models import EpisodeInfo, MovieInfo, Person, Rating, ShowInfo, TitleInfo

MAX_TEXT = 8000  # characters of one element's text (a plot is a few hundred)
MAX_ACTORS = 30
# Everything XML 1.0's Char production does not allow.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """``text`` without what XML 1.0 cannot carry, capped at :data:`MAX_TEXT` characters."""
    return _NOT_XML.sub("", text)[:MAX_TEXT]


def _add(parent: ET.Element, tag: str, value: object, **attrs: str) -> ET.Element | None:
    """A child element with ``value`` as its text; nothing when the value is empty."""
    if value is None or value == "" or value == ():
        return None
    child = ET.SubElement(parent, tag, {k: clean(v) for k, v in attrs.items()})
    child.text = clean(value if isinstance(value, str) else str(value))
    return child


def _many(parent: ET.Element, tag: str, values: Iterable[str]) -> None:
    for value in values:
        _add(parent, tag, value)


def _ratings(parent: ET.Element, rating: Rating | None) -> None:
    if rating is None:
        return
    ratings = ET.SubElement(parent, "ratings")
    one = ET.SubElement(ratings, "rating", {"name": clean(rating.name), "max": str(rating.max), "default": "true"})
    _add(one, "value", f"{rating.value:.1f}")
    _add(one, "votes", rating.votes)


def _actors(parent: ET.Element, actors: Iterable[Person]) -> None:
    for i, person in enumerate(actors):
        if i >= MAX_ACTORS:
            return
        actor = ET.SubElement(parent, "actor")
        _add(actor, "name", person.name)
        _add(actor, "role", person.role)
        _add(actor, "order", person.order)


def _ids(parent: ET.Element, tmdb_id: int | None, imdb_id: str | None = None, tvdb_id: int | None = None) -> None:
    # The TMDB id is the default one: Kodi's default scraper (and Haul's metadata) use TMDB.
    _add(parent, "uniqueid", tmdb_id, type="tmdb", default="true")
    _add(parent, "uniqueid", imdb_id, type="imdb")
    _add(parent, "uniqueid", tvdb_id, type="tvdb")


def _serialise(root: ET.Element) -> bytes:
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _title(root: ET.Element, info: TitleInfo, tvdb_id: int | None = None) -> None:
    """What a series' and a movie's NFO both start with."""
    _add(root, "title", info.title)
    _add(root, "originaltitle", info.original_title)
    if isinstance(info, ShowInfo):
        _add(root, "showtitle", info.title)
    _ratings(root, info.rating)
    _add(root, "plot", info.plot)
    _add(root, "tagline", info.tagline)
    _add(root, "runtime", info.runtime)
    _add(root, "thumb", info.art.poster, aspect="poster")
    _add(root, "thumb", info.art.logo, aspect="clearlogo")
    if info.art.fanart:
        _add(ET.SubElement(root, "fanart"), "thumb", info.art.fanart)
    _ids(root, info.tmdb_id, info.imdb_id, tvdb_id)
    _many(root, "genre", info.genres)


def tvshow_nfo(show: ShowInfo) -> bytes:
    """``tvshow.nfo``: the series' own information, in the series' folder."""
    root = ET.Element("tvshow")
    _title(root, show, show.tvdb_id)
    _add(root, "premiered", show.premiered)
    _add(root, "year", show.year)
    _add(root, "status", show.status)
    _many(root, "studio", show.studios)
    for number, name in show.seasons:
        _add(root, "namedseason", name, number=str(number))
    _actors(root, show.actors)
    return _serialise(root)


def episode_nfo(show: ShowInfo, episode: EpisodeInfo) -> bytes:
    """``<episode file name>.nfo``: one episode, beside its video."""
    root = ET.Element("episodedetails")
    _add(root, "title", episode.title)
    _add(root, "showtitle", show.title)
    _ratings(root, episode.rating)
    _add(root, "season", episode.season)
    _add(root, "episode", episode.episode)
    _add(root, "plot", episode.plot)
    _add(root, "runtime", episode.runtime)
    _add(root, "thumb", episode.still)
    _ids(root, episode.tmdb_id)
    _many(root, "credits", episode.writers)
    _many(root, "director", episode.directors)
    _add(root, "aired", episode.aired)
    _add(root, "premiered", episode.aired)
    return _serialise(root)


def movie_nfo(movie: MovieInfo) -> bytes:
    """``movie.nfo``: a movie, in the movie's own folder."""
    root = ET.Element("movie")
    _title(root, movie)
    _many(root, "country", movie.countries)
    if movie.collection:
        _add(ET.SubElement(root, "set"), "name", movie.collection)
    _many(root, "director", movie.directors)
    _add(root, "premiered", movie.premiered)
    _add(root, "year", movie.year)
    _many(root, "studio", movie.studios)
    _actors(root, movie.actors)
    return _serialise(root)
