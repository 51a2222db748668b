"""TMDB's JSON answers turned into what an NFO says (pure functions, no I/O).

The shapes are TMDB's v3 API: ``/tv/{id}`` and ``/movie/{id}`` (with ``external_ids``,
``credits`` and ``images`` appended), ``/tv/{id}/season/{n}`` and ``/configuration``. Fields
TMDB leaves out or sends as null are left out of the NFO; a wrong type is treated as absent
(a provider's answer is input, not trusted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .models import Art, Artwork, EpisodeInfo, MovieInfo, Person, Rating, ShowInfo

# The image sizes asked for: big enough for a 1080p screen, far smaller than "original".
PREFERRED_SIZE = {Art.POSTER: "w780", Art.FANART: "w1280", Art.LOGO: "w500"}
_SIZE_LISTS = {Art.POSTER: "poster_sizes", Art.FANART: "backdrop_sizes", Art.LOGO: "logo_sizes"}


def _str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _int(raw: dict[str, Any], key: str) -> int | None:
    value = raw.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _dict(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _names(value: Any) -> tuple[str, ...]:
    return tuple(n for n in (_str(v, "name") for v in _dicts(value)) if n)


def _rating(raw: dict[str, Any]) -> Rating | None:
    value, votes = raw.get("vote_average"), _int(raw, "vote_count") or 0
    if not isinstance(value, int | float) or isinstance(value, bool) or votes <= 0:
        return None
    return Rating(float(value), votes)


def _cast(raw: dict[str, Any]) -> tuple[Person, ...]:
    credits = _dict(raw, "credits")
    cast = sorted(_dicts(credits.get("cast")), key=lambda c: _int(c, "order") or 0)
    return tuple(Person(name, _str(c, "character"), _int(c, "order")) for c in cast if (name := _str(c, "name")))


def _crew(crew: Any, jobs: Iterable[str]) -> tuple[str, ...]:
    wanted = set(jobs)
    return tuple(n for c in _dicts(crew) if c.get("job") in wanted and (n := _str(c, "name")))


def _logo_path(raw: dict[str, Any], language: str = "en") -> str | None:
    """The best logo among ``images.logos``: the show's language first, then no language."""
    images = _dict(raw, "images")
    logos = [lg for lg in _dicts(images.get("logos")) if _str(lg, "file_path")]
    for wanted in (language, None):
        for logo in logos:
            if logo.get("iso_639_1") == wanted:
                return _str(logo, "file_path")
    return _str(logos[0], "file_path") if logos else None


class ImageUrls:
    """Image URLs from TMDB's ``/configuration``: ``secure_base_url`` + a size + the path."""

    def __init__(self, configuration: dict[str, Any]) -> None:
        images = _dict(configuration, "images")
        self.base = _str(images, "secure_base_url") or _str(images, "base_url")
        self._images = images

    def _size(self, sizes_key: str, preferred: str) -> str:
        sizes = [s for s in self._images.get(sizes_key) or [] if isinstance(s, str)]
        return preferred if preferred in sizes or not sizes else sizes[-1]

    def _url(self, sizes_key: str, preferred: str, path: str | None) -> str | None:
        if not path or not self.base or not path.startswith("/"):
            return None
        return f"{self.base.rstrip('/')}/{self._size(sizes_key, preferred)}{path}"

    def url(self, art: Art, path: str | None) -> str | None:
        return self._url(_SIZE_LISTS[art], PREFERRED_SIZE[art], path)

    def still(self, path: str | None) -> str | None:
        """An episode's still (its thumbnail in the NFO)."""
        return self._url("still_sizes", "w300", path)


def artwork(raw: dict[str, Any], urls: ImageUrls) -> Artwork:
    return Artwork(
        poster=urls.url(Art.POSTER, _str(raw, "poster_path")),
        fanart=urls.url(Art.FANART, _str(raw, "backdrop_path")),
        logo=urls.url(Art.LOGO, _logo_path(raw)),
    )


def show_info(raw: dict[str, Any], urls: ImageUrls) -> ShowInfo:
    ids = _dict(raw, "external_ids")
    runtimes = [r for r in raw.get("episode_run_time") or [] if isinstance(r, int)]
    seasons = tuple(
        (number, name) for s in _dicts(raw.get("seasons"))
        if (number := _int(s, "season_number")) is not None and (name := _str(s, "name"))
    )
    return ShowInfo(
        tmdb_id=int(raw["id"]), title=_str(raw, "name") or _str(raw, "original_name") or str(raw["id"]),
        original_title=_str(raw, "original_name"), plot=_str(raw, "overview"), tagline=_str(raw, "tagline"),
        premiered=_str(raw, "first_air_date"), status=_str(raw, "status"), runtime=runtimes[0] if runtimes else None,
        imdb_id=_str(ids, "imdb_id"), tvdb_id=_int(ids, "tvdb_id"), rating=_rating(raw),
        genres=_names(raw.get("genres")), studios=_names(raw.get("networks")), actors=_cast(raw),
        seasons=seasons, art=artwork(raw, urls),
        season_posters=tuple(
            (number, url) for s in _dicts(raw.get("seasons"))
            if (number := _int(s, "season_number")) is not None
            and (url := urls.url(Art.POSTER, _str(s, "poster_path")))
        ),
    )


def episodes(season: dict[str, Any], urls: ImageUrls) -> list[EpisodeInfo]:
    """The episodes of a ``/tv/{id}/season/{n}`` answer."""
    number = _int(season, "season_number")
    found = []
    for raw in _dicts(season.get("episodes")):
        episode = _int(raw, "episode_number")
        season_number = _int(raw, "season_number")
        if season_number is None:
            season_number = number
        if episode is None or season_number is None:
            continue
        found.append(EpisodeInfo(
            season=season_number, episode=episode, title=_str(raw, "name") or f"Episode {episode}",
            tmdb_id=_int(raw, "id"), plot=_str(raw, "overview"), aired=_str(raw, "air_date"),
            runtime=_int(raw, "runtime"), rating=_rating(raw), directors=_crew(raw.get("crew"), ("Director",)),
            writers=_crew(raw.get("crew"), ("Writer", "Screenplay")),
            still=urls.still(_str(raw, "still_path")),
        ))
    return found


def movie_info(raw: dict[str, Any], urls: ImageUrls) -> MovieInfo:
    credits = _dict(raw, "credits")
    collection = _dict(raw, "belongs_to_collection")
    return MovieInfo(
        tmdb_id=int(raw["id"]), title=_str(raw, "title") or _str(raw, "original_title") or str(raw["id"]),
        original_title=_str(raw, "original_title"), plot=_str(raw, "overview"), tagline=_str(raw, "tagline"),
        premiered=_str(raw, "release_date"), runtime=_int(raw, "runtime"), imdb_id=_str(raw, "imdb_id"),
        rating=_rating(raw), genres=_names(raw.get("genres")), studios=_names(raw.get("production_companies")),
        countries=_names(raw.get("production_countries")), collection=_str(collection, "name"),
        actors=_cast(raw), directors=_crew(credits.get("crew"), ("Director",)), art=artwork(raw, urls),
    )
