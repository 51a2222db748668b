"""Request and answer models of ``POST /search/smart`` and ``POST /search/smart-grab``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from ..api.schemas import PlainText, _Strict
from ..downloads.schemas import Priority
from ..metadata.providers.schemas import QualityPatch

Source = Literal["feeds", "indexers"]
SOURCES: tuple[Source, ...] = ("feeds", "indexers")


class SmartSearch(_Strict):
    tmdb_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="TMDB's id; or title (and year)")
    title: PlainText | None = Field(default=None, min_length=1, max_length=200)
    year: int | None = Field(default=None, ge=1870, le=2200)
    kind: Literal["tv", "movie"] = Field(default="tv", validation_alias=AliasChoices("kind", "type"),
                                         description="tv or movie (Flasharr's `type` is accepted too)")
    season: int | None = Field(default=None, ge=0, le=1000, description="tv: the season (default 1)")
    sources: list[Source] = Field(
        default_factory=lambda: list(SOURCES), min_length=1, max_length=2,
        description="where to look: the items of your feeds, the configured indexers")

    @model_validator(mode="after")
    def _what(self) -> SmartSearch:
        if self.tmdb_id is None and not self.title:
            raise ValueError("give tmdb_id, or title (and year)")
        if self.kind == "movie" and self.season is not None:
            raise ValueError("season: a movie has no seasons")
        return self


class SmartGrab(SmartSearch):
    episodes: list[Annotated[int, Field(ge=0, le=10000)]] | None = Field(
        default=None, max_length=1000, description="only these episodes (default: every episode of the season)")
    batch_name: PlainText | None = Field(default=None, min_length=1, max_length=200,
                                         description='default "<title> S<season>" or "<title> (<year>)"')
    quality: QualityPatch | None = Field(default=None, description="this grab's changes to the quality preference")
    category: PlainText | None = Field(default=None, max_length=100)
    path: PlainText | None = Field(default=None, max_length=500, description="a folder prefix for every file")
    naming: PlainText | None = Field(default=None, max_length=500, description="a naming template for every file "
                                                                               "(default: the category's, else tv's)")
    priority: Priority = 0


class _Out(BaseModel):
    model_config = ConfigDict(extra="allow")


class CandidateView(_Out):
    title: str
    url: str
    size: int | None
    quality: str | None
    source: dict[str, Any]
    refused: str | None = None
    best: bool = False


class EpisodeCandidates(_Out):
    season: int
    episode: int
    title: str | None
    candidates: list[CandidateView]


class SourceView(_Out):
    type: str
    name: str
    found: int
    error: str | None


class SmartSearchAnswer(_Out):
    tmdb_id: int
    kind: str
    title: str
    year: int | None
    season: int | None
    episodes: list[EpisodeCandidates]
    candidates: list[CandidateView] = Field(description="a movie's candidate files (empty for a series)")
    season_packs: list[CandidateView]
    missing_episodes: list[int]
    sources: list[SourceView]
    unmatched: int


class SmartGrabAnswer(_Out):
    batch_id: str
    batch_name: str
    tasks_created: int
    missing_episodes: list[int]
    picked: list[dict[str, Any]]
