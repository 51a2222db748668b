"""A download's metadata: what it is (a film, an episode, a track) and free labels.

One flat object, validated here, stored on the task (``metadata``) and shown by the API, the
WebSocket and the stored S3 object's metadata. Two families of fields, never mixed:

- media (TMDB-like): ``tmdb_id``, ``imdb_id``, ``title``, ``year``, ``season``, ``episode``,
  ``episode_title``, ``kind`` (``movie`` or ``tv``);
- music (Sharktooth's download fields): ``artist_names`` (at least one), ``track_name``,
  ``album_name``, ``track_number``, ``disc_number``, ``release_date`` (``{year, month|null,
  day|null}``, ``day`` null whenever ``month`` is), ``codec``, ``bitrate`` (kbit/s);

plus ``labels``: free ``name -> text`` pairs, bounded. Every rule names its field, so a 422
says e.g. ``metadata.release_date.day: must be null when month is null``.
"""

from __future__ import annotations

import calendar
import json
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

MEDIA_FIELDS = ("tmdb_id", "imdb_id", "title", "year", "season", "episode", "episode_title", "kind")
MUSIC_FIELDS = (
    "artist_names", "track_name", "album_name", "track_number", "disc_number", "release_date", "codec", "bitrate",
)
CODECS = ("mp3", "flac", "aac", "alac", "opus", "vorbis", "wav")
MAX_LABELS = 20
MAX_LABEL_VALUE = 256
MAX_ARTISTS = 20
# The stored JSON of one download's metadata, at most (a task item stays far below 400 KB, and
# a WebSocket frame of one task below 32 KB).
MAX_BYTES = 8 * 1024
_LABEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_IMDB = re.compile(r"^tt\d{7,10}$")


def _plain(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# A name people read: 1..300 characters, no control characters.
Name = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_plain)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class ReleaseDate(_Strict):
    """Sharktooth's TrackReleaseDate: a year, maybe a month, a day only with a month."""

    year: int = Field(ge=1000, le=2100)
    month: int | None = Field(default=None, ge=1, le=12)
    day: int | None = Field(default=None, ge=1, le=31)

    @model_validator(mode="after")
    def _day(self) -> ReleaseDate:
        if self.day is not None:
            if self.month is None:
                raise ValueError("day must be null when month is null")
            last = calendar.monthrange(self.year, self.month)[1]
            if self.day > last:
                raise ValueError(f"day must be at most {last} in {self.year}-{self.month:02d}")
        return self


class Metadata(_Strict):
    """What a download is. Every field is optional; media and music fields are not mixed."""

    # -- media --
    tmdb_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="The Movie Database id")
    imdb_id: str | None = Field(default=None, description="tt followed by 7 to 10 digits")
    title: Name | None = None
    year: int | None = Field(default=None, ge=1870, le=2100)
    season: int | None = Field(default=None, ge=0, le=1000, description="0: specials")
    episode: int | None = Field(default=None, ge=0, le=10000)
    episode_title: Name | None = None
    kind: Literal["movie", "tv"] | None = None
    # -- music --
    artist_names: list[Name] | None = Field(default=None, min_length=1, max_length=MAX_ARTISTS)
    track_name: Name | None = None
    album_name: Name | None = None
    track_number: int | None = Field(default=None, ge=1, le=999)
    disc_number: int | None = Field(default=None, ge=1, le=99)
    release_date: ReleaseDate | None = None
    codec: Literal["mp3", "flac", "aac", "alac", "opus", "vorbis", "wav"] | None = None
    bitrate: int | None = Field(default=None, ge=8, le=9216, description="kbit/s")
    # -- free --
    labels: dict[str, str] = Field(default_factory=dict, description=f"at most {MAX_LABELS} name -> text pairs")

    @field_validator("imdb_id")
    @classmethod
    def _imdb(cls, value: str | None) -> str | None:
        if value is not None and not _IMDB.match(value):
            raise ValueError("must be tt followed by 7 to 10 digits (e.g. tt0903747)")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > MAX_LABELS:
            raise ValueError(f"at most {MAX_LABELS} labels")
        for name, text in value.items():
            if not _LABEL_NAME.match(name):
                raise ValueError(f"{name[:70]!r}: a label name is 1 to 64 letters, digits, '_', '.' or '-'")
            if not isinstance(text, str) or len(text) > MAX_LABEL_VALUE:
                raise ValueError(f"{name!r}: a label's text is at most {MAX_LABEL_VALUE} characters")
            if text:
                _plain(text)
        return value

    @model_validator(mode="after")
    def _families(self) -> Metadata:
        given = self.model_fields_set
        media = [f for f in MEDIA_FIELDS if f in given and getattr(self, f) is not None]
        music = [f for f in MUSIC_FIELDS if f in given and getattr(self, f) is not None]
        if media and music:
            raise ValueError(
                f"media fields ({', '.join(media)}) and music fields ({', '.join(music)}) cannot be mixed"
            )
        if music and not self.artist_names:
            raise ValueError("artist_names (at least one) is required with music fields")
        if music and self.track_name is None:
            raise ValueError("track_name is required with music fields")
        if self.kind == "movie" and (self.season is not None or self.episode is not None):
            raise ValueError("a movie has no season or episode")
        if self.episode_title is not None and self.episode is None:
            raise ValueError("episode_title needs an episode")
        if len(json.dumps(self.stored(), ensure_ascii=False).encode()) > MAX_BYTES:
            raise ValueError(f"is larger than {MAX_BYTES} bytes")
        return self

    # -- views ------------------------------------------------------------------------------

    def stored(self) -> dict[str, Any]:
        """The fields that are set, as plain JSON (what the task stores and the API shows)."""
        return self.model_dump(exclude_none=True, exclude_defaults=False, mode="json",
                               exclude={"labels"} if not self.labels else None)

    @property
    def family(self) -> Literal["tv", "movie", "music"] | None:
        """Which default template fits: music, tv (a season or episode or kind tv), movie."""
        if self.artist_names:
            return "music"
        if self.kind == "tv" or self.season is not None or self.episode is not None:
            return "tv"
        if self.kind == "movie" or self.title is not None or self.tmdb_id is not None:
            return "movie"
        return None

    @property
    def primary_artist(self) -> str | None:
        return self.artist_names[0] if self.artist_names else None


def of(data: dict[str, Any] | None) -> Metadata | None:
    """Stored metadata (already validated once) back as a model; None for none."""
    if not data:
        return None
    return Metadata.model_validate(data)
