"""What the metadata providers answer, as plain values (no I/O), and their settings.

Every value has ``view()``: the JSON the API answers. The settings' secrets (API keys) live
apart from the rest (:class:`Secrets`) and are never part of a view.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

TMDB = "tmdb"
MUSICBRAINZ = "musicbrainz"
PROVIDERS = (TMDB, MUSICBRAINZ)

DEFAULT_TMDB_URL = "https://api.themoviedb.org/3"
DEFAULT_TMDB_IMAGES = "https://image.tmdb.org/t/p"
DEFAULT_MUSICBRAINZ_URL = "https://musicbrainz.org/ws/2"
DEFAULT_COVERART_URL = "https://coverartarchive.org"
DAY = 24 * 3600


# -- settings ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TmdbSettings:
    base_url: str = DEFAULT_TMDB_URL
    image_base_url: str = DEFAULT_TMDB_IMAGES
    language: str = "en-US"
    # TMDB allows ~40-50 requests/s per IP; Haul stays at or under this, over all its functions.
    requests_per_second: float = 40.0
    cache_seconds: int = DAY


@dataclass(frozen=True)
class MusicBrainzSettings:
    base_url: str = DEFAULT_MUSICBRAINZ_URL
    coverart_base_url: str = DEFAULT_COVERART_URL
    # MusicBrainz asks every client for a User-Agent with a way to contact its operator (an
    # e-mail address or URL); without one it may block the address. Required.
    contact: str = ""
    # MusicBrainz allows 1 request/s per IP on average; never more.
    requests_per_second: float = 1.0
    cache_seconds: int = DAY


@dataclass(frozen=True)
class IndexerSettings:
    """A Torznab/Newznab-compatible indexer (Jackett, Prowlarr, an NZB indexer...)."""

    name: str
    url: str  # the API endpoint, e.g. http://prowlarr:9696/1/api
    categories: tuple[int, ...] = ()
    enabled: bool = True
    requests_per_second: float = 1.0
    cache_seconds: int = 900


@dataclass(frozen=True)
class QualityPreference:
    """How smart grab ranks an episode's candidate files (chalicelib/domain/quality.py)."""

    resolutions: tuple[str, ...] = ("1080p", "720p", "2160p", "480p")  # most wanted first
    min_size: int = 0  # bytes; 0: no lower bound
    max_size: int = 0  # bytes; 0: no upper bound
    prefer_groups: tuple[str, ...] = ()
    avoid_groups: tuple[str, ...] = ()  # never picked
    prefer_sources: tuple[str, ...] = ("Web", "Blu-ray", "HDTV")  # guessit's source names, most wanted first


@dataclass(frozen=True)
class ProviderSettings:
    tmdb: TmdbSettings = field(default_factory=TmdbSettings)
    musicbrainz: MusicBrainzSettings = field(default_factory=MusicBrainzSettings)
    indexers: tuple[IndexerSettings, ...] = ()
    quality: QualityPreference = field(default_factory=QualityPreference)

    def stored(self) -> dict[str, Any]:
        out = asdict(self)
        return out

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> ProviderSettings:
        raw = raw or {}

        def section(kind: Any, data: Any) -> Any:
            known = set(kind.__dataclass_fields__)
            values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in dict(data or {}).items() if k in known}
            return kind(**values)

        return cls(
            tmdb=section(TmdbSettings, raw.get("tmdb")),
            musicbrainz=section(MusicBrainzSettings, raw.get("musicbrainz")),
            indexers=tuple(section(IndexerSettings, i) for i in raw.get("indexers") or () if isinstance(i, dict)),
            quality=section(QualityPreference, raw.get("quality")),
        )


@dataclass(frozen=True)
class Secrets:
    """The providers' keys (sealed at rest, never shown): TMDB's, and each indexer's by name."""

    tmdb_api_key: str = ""
    indexer_keys: dict[str, str] = field(default_factory=dict)

    def stored(self) -> dict[str, Any]:
        return {"tmdb_api_key": self.tmdb_api_key, "indexer_keys": dict(self.indexer_keys)}

    @classmethod
    def of(cls, raw: dict[str, Any] | None) -> Secrets:
        raw = raw or {}
        keys = raw.get("indexer_keys") or {}
        return cls(str(raw.get("tmdb_api_key") or ""),
                   {str(k): str(v) for k, v in keys.items()} if isinstance(keys, dict) else {})


# -- answers ----------------------------------------------------------------------------------


class Viewable:
    def view(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class MediaMatch(Viewable):
    """One search result of any provider."""

    provider: str
    id: str
    kind: str  # movie, tv, recording, release
    title: str
    year: int | None = None
    original_title: str | None = None
    overview: str | None = None
    image_url: str | None = None
    # music: the artists (recording, release), the album and its date
    artist_names: list[str] = field(default_factory=list)
    album_name: str | None = None
    date: str | None = None
    score: float | None = None  # the provider's relevance or popularity


@dataclass(frozen=True)
class SeasonSummary(Viewable):
    season_number: int
    name: str | None
    episode_count: int | None
    air_date: str | None
    poster_path: str | None


@dataclass(frozen=True)
class MediaDetails(Viewable):
    """A movie or a TV series (TMDB)."""

    provider: str
    id: int
    kind: str  # movie or tv
    title: str
    original_title: str | None
    year: int | None
    date: str | None  # release date (movie) or first air date (tv), YYYY-MM-DD
    overview: str | None
    genres: list[str]
    imdb_id: str | None
    tvdb_id: int | None
    runtime: int | None  # minutes (movie; an episode's usual length for tv)
    status: str | None
    rating: float | None
    votes: int | None
    studios: list[str]  # production companies (movie) or networks (tv)
    poster_path: str | None
    backdrop_path: str | None
    poster_url: str | None
    backdrop_url: str | None
    seasons: list[SeasonSummary]
    number_of_seasons: int | None
    number_of_episodes: int | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # TMDB's whole answer


@dataclass(frozen=True)
class EpisodeInfo(Viewable):
    season_number: int
    episode_number: int
    name: str | None
    overview: str | None
    air_date: str | None
    runtime: int | None
    still_path: str | None
    still_url: str | None
    rating: float | None
    id: int | None


@dataclass(frozen=True)
class SeasonInfo(Viewable):
    tv_id: int
    season_number: int
    name: str | None
    overview: str | None
    air_date: str | None
    poster_path: str | None
    poster_url: str | None
    episodes: list[EpisodeInfo]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # TMDB's whole answer


@dataclass(frozen=True)
class ImageRef(Viewable):
    file_path: str
    url: str
    width: int | None
    height: int | None
    language: str | None
    rating: float | None


@dataclass(frozen=True)
class Images(Viewable):
    """TMDB's images of a movie or series, best first (rating, then size)."""

    kind: str
    id: int
    posters: list[ImageRef]
    backdrops: list[ImageRef]  # Kodi's fanart
    logos: list[ImageRef]


@dataclass(frozen=True)
class ReleaseDate(Viewable):
    """Sharktooth's release date: ``day`` is null when ``month`` is."""

    year: int
    month: int | None
    day: int | None

    @classmethod
    def parse(cls, text: str | None) -> ReleaseDate | None:
        parts = [p for p in (text or "").split("-") if p]
        try:
            numbers = [int(p) for p in parts[:3]]
        except ValueError:
            return None
        if not numbers or not 1 <= numbers[0] <= 9999:
            return None
        month = numbers[1] if len(numbers) > 1 and 1 <= numbers[1] <= 12 else None
        day = numbers[2] if month is not None and len(numbers) > 2 and 1 <= numbers[2] <= 31 else None
        return cls(numbers[0], month, day)


@dataclass(frozen=True)
class TrackMetadata(Viewable):
    """Sharktooth's ``GET /metadata`` answer, plus the MusicBrainz ids it came from."""

    artist_names: list[str]
    track_name: str
    album_name: str | None
    track_number: int | None
    disc_number: int | None
    release_date: ReleaseDate | None
    recording_id: str
    release_id: str | None
    length_ms: int | None
    cover_url: str | None = None


@dataclass(frozen=True)
class CoverArt(Viewable):
    release_id: str
    front_url: str | None
    thumbnails: dict[str, str]
    images: int


class MetadataProvider(Protocol):
    """The one small interface every provider has: its name, the kinds it can search, and a
    search. What else a provider offers (TMDB's seasons, MusicBrainz's recordings) is its own."""

    name: str
    kinds: tuple[str, ...]

    def search(self, query: str, kind: str, year: int | None = None, limit: int = 20) -> list[MediaMatch]: ...
