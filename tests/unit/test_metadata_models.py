"""Every validation rule of a download's metadata (chalicelib/metadata/models.py), and the
422 it becomes inside the error envelope (field names as Sharktooth's {field, message})."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.api.errors import ValidationFailed
from chalicelib.api.schemas import parse
from chalicelib.downloads.schemas import AddDownload, PatchDownload
from chalicelib.metadata.models import MAX_LABELS, Metadata

URL = "https://example.com/a.mkv"


def fails(metadata: Any) -> list[dict[str, str]]:
    with pytest.raises(ValidationFailed) as caught:
        parse(AddDownload, {"url": URL, "metadata": metadata})
    assert caught.value.status == 422
    return caught.value.details


def field_of(metadata: Any) -> str:
    return fails(metadata)[0]["field"]


def test_media_and_music_metadata_are_accepted_and_stored_plain() -> None:
    req = parse(AddDownload, {"url": URL, "metadata": {
        "tmdb_id": 1396, "imdb_id": "tt0903747", "title": " Breaking Bad ", "year": 2008, "season": 1,
        "episode": 2, "episode_title": "Cat's in the Bag...", "kind": "tv", "labels": {"source": "web"}}})
    assert req.metadata.stored() == {
        "tmdb_id": 1396, "imdb_id": "tt0903747", "title": "Breaking Bad", "year": 2008, "season": 1, "episode": 2,
        "episode_title": "Cat's in the Bag...", "kind": "tv", "labels": {"source": "web"}}
    music = Metadata.model_validate({
        "artist_names": ["Daft Punk"], "track_name": "One More Time", "album_name": "Discovery", "track_number": 1,
        "disc_number": 1, "release_date": {"year": 2001, "month": 3, "day": 12}, "codec": "flac", "bitrate": 256})
    assert music.stored()["release_date"] == {"year": 2001, "month": 3, "day": 12}
    assert music.family == "music" and music.primary_artist == "Daft Punk"


@pytest.mark.parametrize(("metadata", "field"), [
    ({"tmdb_id": 0}, "metadata.tmdb_id"),
    ({"tmdb_id": "abc"}, "metadata.tmdb_id"),
    ({"tmdb_id": True}, "metadata.tmdb_id"),
    ({"imdb_id": "0903747"}, "metadata.imdb_id"),
    ({"imdb_id": "tt12"}, "metadata.imdb_id"),
    ({"title": ""}, "metadata.title"),
    ({"title": "   "}, "metadata.title"),
    ({"title": "a\x00b"}, "metadata.title"),
    ({"title": "x" * 301}, "metadata.title"),
    ({"year": 1200}, "metadata.year"),
    ({"season": -1}, "metadata.season"),
    ({"episode": 10001}, "metadata.episode"),
    ({"kind": "anime"}, "metadata.kind"),
    ({"artist_names": [], "track_name": "t"}, "metadata.artist_names"),
    ({"artist_names": "Daft Punk", "track_name": "t"}, "metadata.artist_names"),
    ({"artist_names": ["a\nb"], "track_name": "t"}, "metadata.artist_names.0"),
    ({"artist_names": ["a"], "track_name": "t", "track_number": 0}, "metadata.track_number"),
    ({"artist_names": ["a"], "track_name": "t", "disc_number": 100}, "metadata.disc_number"),
    ({"artist_names": ["a"], "track_name": "t", "codec": "wma"}, "metadata.codec"),
    ({"artist_names": ["a"], "track_name": "t", "bitrate": 4}, "metadata.bitrate"),
    ({"artist_names": ["a"], "track_name": "t", "release_date": {"month": 1}}, "metadata.release_date.year"),
    ({"artist_names": ["a"], "track_name": "t", "release_date": {"year": 2001, "month": 13}},
     "metadata.release_date.month"),
    ({"artist_names": ["a"], "track_name": "t", "release_date": {"year": 2001, "day": 3}}, "metadata.release_date"),
    ({"artist_names": ["a"], "track_name": "t", "release_date": {"year": 2001, "month": 2, "day": 30}},
     "metadata.release_date"),
    ({"labels": {"bad name": "x"}}, "metadata.labels"),
    ({"labels": {"n": "x" * 257}}, "metadata.labels"),
    ({"labels": {"n": "a\x1bb"}}, "metadata.labels"),
    ({"labels": {f"l{i}": "x" for i in range(MAX_LABELS + 1)}}, "metadata.labels"),
    ({"colour": "red"}, "metadata.colour"),
    ("tv", "metadata"),
])
def test_each_rule_answers_422_naming_its_field(metadata: Any, field: str) -> None:
    assert field_of(metadata) == field


def test_sharktooths_release_date_rule_day_null_when_month_null() -> None:
    details = fails({"artist_names": ["a"], "track_name": "t", "release_date": {"year": 2023, "month": None, "day": 1}})
    assert details == [{"field": "metadata.release_date", "message": "day must be null when month is null"}]
    ok = Metadata.model_validate({"artist_names": ["a"], "track_name": "t",
                                  "release_date": {"year": 2023, "month": None, "day": None}})
    assert ok.release_date is not None and ok.release_date.day is None
    leap = Metadata.model_validate({"artist_names": ["a"], "track_name": "t",
                                    "release_date": {"year": 2024, "month": 2, "day": 29}})
    assert leap.release_date is not None and leap.release_date.day == 29


@pytest.mark.parametrize(("metadata", "words"), [
    ({"title": "x", "artist_names": ["a"], "track_name": "t"}, "cannot be mixed"),
    ({"album_name": "x"}, "artist_names"),
    ({"artist_names": ["a"]}, "track_name is required"),
    ({"kind": "movie", "season": 1}, "a movie has no season"),
    ({"episode_title": "Pilot"}, "needs an episode"),
])
def test_rules_across_fields_name_the_metadata(metadata: dict[str, Any], words: str) -> None:
    details = fails(metadata)
    assert details[0]["field"] == "metadata" and words in details[0]["message"]


def test_the_envelope_summary_names_the_field() -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(PatchDownload, {"metadata": {"season": "one"}})
    body = caught.value.body("r1")["error"]
    assert body["code"] == "VALIDATION_ERROR" and "metadata.season" in body["message"]
    assert body["details"][0]["field"] == "metadata.season"


def test_a_huge_metadata_object_is_refused() -> None:
    labels = {f"l{i}": "x" * 256 for i in range(MAX_LABELS)}
    artists = ["y" * 300] * 20
    assert field_of({"artist_names": artists, "track_name": "t", "labels": labels}) == "metadata"


@pytest.mark.parametrize(("body", "field"), [
    ({"path": "../etc"}, "path"),
    ({"path": "a/../../b"}, "path"),
    ({"path": "a\x00"}, "path"),
    ({"path": "///"}, "path"),
    ({"naming": "{title.__class__}.{ext}"}, "naming"),
    ({"naming": "{title!r}.{ext}"}, "naming"),
    ({"naming": "{title:>999}.{ext}"}, "naming"),
    ({"naming": "/{title}.{ext}"}, "naming"),
    ({"naming": "../{title}.{ext}"}, "naming"),
    ({"naming": "{title}"}, "naming"),
    ({"naming": "{nope}.{ext}"}, "naming"),
    ({"naming": "{title"}, "naming"),
])
def test_hostile_paths_and_templates_are_refused(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse(AddDownload, {"url": URL, **body})
    assert caught.value.details[0]["field"] == field
