"""Request and answer models of the provider settings and the /metadata routes."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ...api.schemas import _Strict

RESOLUTIONS = ("360p", "480p", "540p", "576p", "720p", "900p", "1080p", "1440p", "2160p", "4320p")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.I)


def _url(value: str) -> str:
    if not _URL.match(value):
        raise ValueError("must be an absolute http:// or https:// URL")
    return value.rstrip("/")


def _plain(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


Url = Annotated[str, Field(min_length=8, max_length=500), AfterValidator(_url)]
Plain = Annotated[str, Field(max_length=200), AfterValidator(_plain)]
Name = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9 _.-]*$")]
Group = Annotated[str, Field(min_length=1, max_length=60), AfterValidator(_plain)]
Secret = Annotated[str, Field(max_length=1000), AfterValidator(_plain)]


class TmdbPatch(_Strict):
    api_key: Secret | None = Field(default=None, description='a v3 API key or a v4 read access token; "" removes it; '
                                                               "never shown again")
    base_url: Url | None = None
    image_base_url: Url | None = None
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[A-Z]{2})?$")
    requests_per_second: float | None = Field(default=None, gt=0, le=50)
    cache_seconds: int | None = Field(default=None, ge=0, le=30 * 86400)


class MusicBrainzPatch(_Strict):
    base_url: Url | None = None
    coverart_base_url: Url | None = None
    contact: Plain | None = Field(default=None, description="an e-mail address or URL for MusicBrainz's User-Agent")
    requests_per_second: float | None = Field(default=None, gt=0, le=1)
    cache_seconds: int | None = Field(default=None, ge=0, le=30 * 86400)


class IndexerIn(_Strict):
    name: Name
    url: Url = Field(description="the Torznab/Newznab API endpoint, e.g. http://prowlarr:9696/1/api")
    api_key: Secret | None = Field(default=None, description="omitted: the indexer of this name keeps its key; "
                                                               '"" removes it')
    categories: list[Annotated[int, Field(ge=0, le=999999)]] = Field(default_factory=list, max_length=30)
    enabled: bool = True
    requests_per_second: float = Field(default=1.0, gt=0, le=10)
    cache_seconds: int = Field(default=900, ge=0, le=86400)


class QualityPatch(_Strict):
    resolutions: list[Literal[RESOLUTIONS]] | None = Field(  # type: ignore[valid-type]
        default=None, max_length=len(RESOLUTIONS), description="wanted resolutions, most wanted first; others are "
                                                               "picked only when none of these is found")
    min_size: int | None = Field(default=None, ge=0, le=2**50)
    max_size: int | None = Field(default=None, ge=0, le=2**50)
    prefer_groups: list[Group] | None = Field(default=None, max_length=50)
    avoid_groups: list[Group] | None = Field(default=None, max_length=50)
    prefer_sources: list[Group] | None = Field(default=None, max_length=20)


class ProvidersPatch(_Strict):
    tmdb: TmdbPatch | None = None
    musicbrainz: MusicBrainzPatch | None = None
    indexers: list[IndexerIn] | None = Field(default=None, max_length=10, description="replaces the list")
    quality: QualityPatch | None = None

    @model_validator(mode="after")
    def _unique(self) -> ProvidersPatch:
        names = [i.name.lower() for i in self.indexers or []]
        if len(names) != len(set(names)):
            raise ValueError("indexers: two indexers have the same name")
        return self


# -- answers ------------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class TmdbView(_Out):
    api_key_set: bool
    base_url: str
    image_base_url: str
    language: str
    requests_per_second: float
    cache_seconds: int
    configured: bool


class MusicBrainzView(_Out):
    base_url: str
    coverart_base_url: str
    contact: str
    requests_per_second: float
    cache_seconds: int
    configured: bool


class IndexerView(_Out):
    name: str
    url: str
    api_key_set: bool
    categories: list[int]
    enabled: bool
    requests_per_second: float
    cache_seconds: int


class QualityView(_Out):
    resolutions: list[str]
    min_size: int
    max_size: int
    prefer_groups: list[str]
    avoid_groups: list[str]
    prefer_sources: list[str]


class ProvidersView(_Out):
    tmdb: TmdbView
    musicbrainz: MusicBrainzView
    indexers: list[IndexerView]
    quality: QualityView
    version: int


# -- the /metadata routes ---------------------------------------------------------------------


class MetadataSearchQuery(_Strict):
    provider: Literal["tmdb", "musicbrainz"] = "tmdb"
    q: str = Field(min_length=1, max_length=200)
    kind: Literal["movie", "tv", "recording", "release"] | None = Field(
        default=None,
        description="tmdb: movie or tv (default tv); musicbrainz: recording or release (default recording)",
    )
    year: int | None = Field(default=None, ge=1800, le=2200)
    limit: int = Field(default=20, ge=1, le=50)


class RecordingQuery(_Strict):
    artist: str = Field(min_length=1, max_length=200)
    track: str = Field(min_length=1, max_length=200)
    cover: bool = Field(default=True, description="also look the release's cover up in the Cover Art Archive")


class MatchView(_Out):
    provider: str
    id: str
    kind: str
    title: str
    year: int | None


class MetadataSearchAnswer(_Out):
    provider: str
    kind: str
    query: str
    results: list[MatchView]


class EpisodeView(_Out):
    season_number: int
    episode_number: int
    name: str | None
    air_date: str | None


class SeasonView(_Out):
    tv_id: int
    season_number: int
    name: str | None
    episodes: list[EpisodeView]


class DetailsView(_Out):
    provider: str
    id: int
    kind: str
    title: str
    year: int | None


class ReleaseDateView(_Out):
    year: int
    month: int | None
    day: int | None


class TrackView(_Out):
    artist_names: list[str]
    track_name: str
    album_name: str | None
    track_number: int | None
    disc_number: int | None
    release_date: ReleaseDateView | None
    recording_id: str
    release_id: str | None
    cover_url: str | None


def details_view(details: Any) -> dict[str, Any]:
    """A MediaDetails or SeasonInfo as the API shows it (without TMDB's raw answer)."""
    view: dict[str, Any] = details.view()
    view.pop("raw", None)
    return view
