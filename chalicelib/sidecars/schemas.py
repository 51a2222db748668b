"""Request and response models of the library's NFO endpoints (validation and the OpenAPI
document; functions/rest/library.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.responses import _Out
from ..api.schemas import _Strict

MAX_BATCH = 100
TmdbId = Field(ge=1, le=2**31 - 1, description="the title's TMDB id")


class ArtOptions(_Strict):
    download_poster: bool = Field(default=True, description="store poster.jpg (or .png) from TMDB")
    download_fanart: bool = Field(default=True, description="store fanart.jpg: TMDB's backdrop")
    download_logo: bool = Field(default=True, description="store clearlogo.png: TMDB's logo")
    episodes: bool = Field(default=True, description="a series: an NFO beside each episode too")


class CreateNfo(ArtOptions):
    overwrite: bool = Field(default=False, description="replace an existing NFO (else 409)")


class RefreshNfo(ArtOptions):
    pass


class BatchItem(_Strict):
    kind: Literal["tv", "movie"]
    tmdb_id: int = TmdbId


class BatchNfo(ArtOptions):
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_BATCH)
    skip_existing: bool = Field(default=True, description="titles with an NFO are skipped (else each fails, "
                                                          "unless overwrite)")
    overwrite: bool = False


class TitlesQuery(_Strict):
    limit: int = Field(default=100, ge=1, le=200, description="titles checked at most")


class MediaFiles(_Out):
    has_poster: bool
    poster_key: str | None
    has_fanart: bool
    fanart_key: str | None
    has_logo: bool
    logo_key: str | None
    season_posters: list[int] = Field(default_factory=list,
                                      description="a series: the seasons with a seasonNN-poster in its folder")


class Videos(_Out):
    total: int = Field(description="completed downloads of this title")
    present: int = Field(description="of those, objects found in the title's folder")
    outside_folder: int = Field(description="downloads stored outside the title's folder (no episode NFO)")


class EpisodeSidecar(_Out):
    season: int
    episode: int
    key: str
    present: bool
    nfo_key: str
    has_nfo: bool


class NfoStatus(_Out):
    kind: Literal["tv", "movie"]
    tmdb_id: int
    folder: str
    has_nfo: bool
    nfo_key: str
    nfo_last_modified: str | None
    media_files: MediaFiles
    videos: Videos
    episodes: list[EpisodeSidecar] | None = Field(default=None, description="a series' episodes (at most 500)")
    episodes_truncated: bool | None = None


class NfoWritten(NfoStatus):
    written: list[str] = Field(description="the keys written")
    warnings: list[str] = Field(description="what could not be done (art TMDB lacks, an episode it does not know)")
    queued_seasons: list[int] = Field(description="seasons left to a background worker (the request's time ran out)")
    message: str


class NfoContent(_Out):
    kind: Literal["tv", "movie"]
    tmdb_id: int
    folder: str
    nfo_key: str
    content: str = Field(description="the NFO's XML")
    file_size: int
    last_modified: str


class BatchResult(_Out):
    kind: Literal["tv", "movie"]
    tmdb_id: int
    status: Literal["created", "skipped", "failed", "queued"]
    message: str
    code: str | None = None
    nfo_key: str | None
    folder: str | None


class BatchAnswer(_Out):
    total: int
    created: int
    skipped: int
    failed: int
    queued: int
    results: list[BatchResult]


class MissingTitle(_Out):
    kind: Literal["tv", "movie"]
    tmdb_id: int
    title: str | None
    year: int | None
    folder: str | None
    has_media: bool
    media_files: MediaFiles | None
    reason: str | None = Field(description="why it has no folder (files not in a folder of their own)")


class LibraryTitle(MissingTitle):
    has_nfo: bool
    nfo_key: str | None


class TitlesAnswer(_Out):
    total_titles: int = Field(description="titles checked")
    truncated: bool = Field(description="more titles than were checked (raise limit)")
    titles: list[LibraryTitle]


class MissingAnswer(_Out):
    total_titles: int = Field(description="titles checked")
    missing_nfo_count: int
    truncated: bool = Field(description="more titles than were checked (raise limit)")
    titles: list[MissingTitle]
