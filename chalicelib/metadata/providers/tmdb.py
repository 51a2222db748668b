"""The Movie Database (TMDB, API v3): search movies and series, details, a season with its
episodes, images, and an image's bytes.

The key is either a v3 API key (sent as the ``api_key`` query parameter) or a v4 read access
token (a JWT, sent as ``Authorization: Bearer``); neither is part of a cache key or a message.
Answers are cached for ``tmdb.cache_seconds`` (a day by default); requests stay under
``tmdb.requests_per_second`` (40) over every function of the stage.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .errors import ProviderFailed, ProviderNotConfigured
from .http import Call, ProviderHttp
from .models import (
    TMDB,
    EpisodeInfo,
    ImageRef,
    Images,
    MediaDetails,
    MediaMatch,
    SeasonInfo,
    SeasonSummary,
    TmdbSettings,
)

KINDS: tuple[str, ...] = ("movie", "tv")


def _year(date: Any) -> int | None:
    text = str(date or "")
    return int(text[:4]) if len(text) >= 4 and text[:4].isdigit() else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


class TmdbClient:
    name = TMDB
    kinds = KINDS

    def __init__(self, http: ProviderHttp, settings: TmdbSettings, api_key: str) -> None:
        if not api_key:
            raise ProviderNotConfigured("TMDB", "tmdb.api_key")
        self.http = http
        self.settings = settings
        self._key = api_key
        http.check("TMDB", "tmdb.base_url", settings.base_url)

    # -- plumbing ---------------------------------------------------------------------------
    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        bearer = self._key.startswith("eyJ")  # a v4 read access token is a JWT
        call = Call(
            provider=TMDB, url=self.settings.base_url.rstrip("/") + path,
            params={"language": self.settings.language, **(params or {})},
            secret_params={} if bearer else {"api_key": self._key},
            headers={"Authorization": f"Bearer {self._key}"} if bearer else {},
            requests_per_second=self.settings.requests_per_second, cache_seconds=self.settings.cache_seconds,
        )
        data = self.http.get_json(call)
        if not isinstance(data, dict):
            raise ProviderFailed("TMDB answered JSON that is not an object")
        return data

    def image_url(self, file_path: str | None, size: str = "original") -> str | None:
        if not file_path:
            return None
        return f"{self.settings.image_base_url.rstrip('/')}/{size}/{file_path.lstrip('/')}"

    @staticmethod
    def _kind(kind: str) -> str:
        if kind not in KINDS:
            raise ValueError(f"TMDB knows movie and tv, not {kind!r}")
        return kind

    # -- the interface every provider has ------------------------------------------------
    def search(self, query: str, kind: str, year: int | None = None, limit: int = 20) -> list[MediaMatch]:
        """Movies or series whose title matches ``query`` (``year``: of release or first airing)."""
        kind = self._kind(kind)
        params: dict[str, Any] = {"query": query, "page": 1, "include_adult": "false"}
        if year:
            params["year" if kind == "movie" else "first_air_date_year"] = year
        data = self._get(f"/search/{kind}", params)
        out: list[MediaMatch] = []
        for r in data.get("results") or []:
            if not isinstance(r, dict) or _int(r.get("id")) is None:
                continue
            title = _str(r.get("title") if kind == "movie" else r.get("name")) or ""
            date = _str(r.get("release_date") if kind == "movie" else r.get("first_air_date"))
            out.append(MediaMatch(
                provider=TMDB, id=str(r["id"]), kind=kind, title=title, year=_year(date),
                original_title=_str(r.get("original_title") if kind == "movie" else r.get("original_name")),
                overview=_str(r.get("overview")), image_url=self.image_url(_str(r.get("poster_path")), "w342"),
                date=date, score=_float(r.get("popularity")),
            ))
        return out[:limit]

    # -- TMDB's own ----------------------------------------------------------------------
    def configuration(self) -> dict[str, Any]:
        """TMDB's ``/configuration`` as it answers it (image base URLs and sizes)."""
        return self._get("/configuration")

    def details(self, kind: str, tmdb_id: int, append: tuple[str, ...] = ("external_ids",)) -> MediaDetails:
        """A movie's or a series' details with its external ids (IMDb, TheTVDB); ``append``
        names more of TMDB's ``append_to_response`` parts (``credits``, ``images``...), which
        are in ``raw``."""
        kind = self._kind(kind)
        parts = ",".join(dict.fromkeys(("external_ids", *append)))
        r = self._get(f"/{kind}/{int(tmdb_id)}", {"append_to_response": parts})
        external = r.get("external_ids") if isinstance(r.get("external_ids"), dict) else {}
        date = _str(r.get("release_date") if kind == "movie" else r.get("first_air_date"))
        runtime = _int(r.get("runtime"))
        if kind == "tv":
            runs = [x for x in r.get("episode_run_time") or [] if isinstance(x, int)]
            runtime = runs[0] if runs else None
        studios = [str(s.get("name")) for s in (r.get("production_companies") if kind == "movie" else r.get("networks"))
                   or [] if isinstance(s, dict) and s.get("name")]
        seasons = [
            SeasonSummary(season_number=int(s["season_number"]), name=_str(s.get("name")),
                          episode_count=_int(s.get("episode_count")), air_date=_str(s.get("air_date")),
                          poster_path=_str(s.get("poster_path")))
            for s in r.get("seasons") or [] if isinstance(s, dict) and _int(s.get("season_number")) is not None
        ]
        return MediaDetails(
            provider=TMDB,
            id=int(r.get("id") or tmdb_id),
            kind=kind,
            title=_str(r.get("title") if kind == "movie" else r.get("name")) or "",
            original_title=_str(r.get("original_title") if kind == "movie" else r.get("original_name")),
            year=_year(date),
            date=date,
            overview=_str(r.get("overview")),
            genres=[str(g.get("name")) for g in r.get("genres") or [] if isinstance(g, dict) and g.get("name")],
            imdb_id=_str(r.get("imdb_id")) or _str(external.get("imdb_id")),
            tvdb_id=_int(external.get("tvdb_id")),
            runtime=runtime,
            status=_str(r.get("status")),
            rating=_float(r.get("vote_average")),
            votes=_int(r.get("vote_count")),
            studios=studios,
            poster_path=_str(r.get("poster_path")),
            backdrop_path=_str(r.get("backdrop_path")),
            poster_url=self.image_url(_str(r.get("poster_path"))),
            backdrop_url=self.image_url(_str(r.get("backdrop_path"))),
            seasons=seasons,
            number_of_seasons=_int(r.get("number_of_seasons")),
            number_of_episodes=_int(r.get("number_of_episodes")),
            raw=r,
        )

    def season(self, tv_id: int, season_number: int) -> SeasonInfo:
        """A series' season with its episodes, in episode order."""
        r = self._get(f"/tv/{int(tv_id)}/season/{int(season_number)}")
        episodes = []
        for e in r.get("episodes") or []:
            if not isinstance(e, dict) or _int(e.get("episode_number")) is None:
                continue
            episodes.append(
                EpisodeInfo(
                    season_number=_int(e.get("season_number")) or int(season_number),
                    episode_number=int(e["episode_number"]),
                    name=_str(e.get("name")),
                    overview=_str(e.get("overview")),
                    air_date=_str(e.get("air_date")),
                    runtime=_int(e.get("runtime")),
                    still_path=_str(e.get("still_path")),
                    still_url=self.image_url(_str(e.get("still_path"))),
                    rating=_float(e.get("vote_average")),
                    id=_int(e.get("id")),
                )
            )
        episodes.sort(key=lambda e: e.episode_number)
        return SeasonInfo(
            tv_id=int(tv_id), season_number=_int(r.get("season_number")) or int(season_number),
            name=_str(r.get("name")), overview=_str(r.get("overview")), air_date=_str(r.get("air_date")),
            poster_path=_str(r.get("poster_path")), poster_url=self.image_url(_str(r.get("poster_path"))),
            episodes=episodes, raw=r,
        )

    def images(self, kind: str, tmdb_id: int, languages: str = "en,null") -> Images:
        """Posters, backdrops (Kodi's fanart) and logos, best first."""
        kind = self._kind(kind)
        r = self._get(f"/{kind}/{int(tmdb_id)}/images", {"include_image_language": languages})

        def refs(key: str) -> list[ImageRef]:
            found = [
                ImageRef(file_path=str(i["file_path"]), url=self.image_url(str(i["file_path"])) or "",
                         width=_int(i.get("width")), height=_int(i.get("height")), language=_str(i.get("iso_639_1")),
                         rating=_float(i.get("vote_average")))
                for i in r.get(key) or [] if isinstance(i, dict) and _str(i.get("file_path"))
            ]
            found.sort(key=lambda i: (-(i.rating or 0.0), -(i.width or 0)))
            return found

        return Images(kind=kind, id=int(tmdb_id), posters=refs("posters"), backdrops=refs("backdrops"),
                      logos=refs("logos"))

    def fetch_image(self, file_path: str, size: str = "original") -> tuple[bytes, str]:
        """An image's bytes and content type (through the guard, at most 20 MiB), e.g. to
        store a poster next to a series."""
        self.http.check("TMDB", "tmdb.image_base_url", self.settings.image_base_url)
        url = self.image_url(quote(file_path, safe="/._-"), size) or ""
        return self.http.get_bytes(Call(provider=TMDB, url=url, requests_per_second=self.settings.requests_per_second,
                                        pace=f"{TMDB}-images"))
