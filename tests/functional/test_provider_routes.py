"""The provider settings and /metadata routes through Chalice's test client, against the fake
providers on loopback: 503 naming the missing setting, keys sealed and never shown, roles,
validation, the SSRF guard on base URLs, and the lookups (functions/rest/metadata.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.support.api import UserCaller
from tests.support.auth import new_user
from tests.support.providers import TMDB_KEY, ProviderServer, Recording, Show, forget_providers


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, dict[str, str]]:
    return {role: new_user(role)[1] for role in ("admin", "user", "viewer")}


@pytest.fixture()
def as_(svc, people, monkeypatch: pytest.MonkeyPatch) -> dict[str, UserCaller]:
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    forget_providers(svc)
    client = Client(app)
    return {role: UserCaller(client, headers) for role, headers in people.items()}


@pytest.fixture()
def fake() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[1396] = Show(1396, "Show", "2008-01-20", {1: ["Pilot", "Second", "Third"]})
        server.recordings.append(Recording("11111111-2222-3333-4444-555555555555", "Loop Song", "The Loopbacks",
                                           "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", "Local Album", "2019-05-04"))
        server.covers["aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"] = True
        yield server


def configure(as_: dict[str, UserCaller], fake: ProviderServer) -> Any:
    resp = as_["admin"]("PATCH", "/settings/providers", {
        "tmdb": {"api_key": TMDB_KEY, "base_url": fake.tmdb_url, "image_base_url": fake.image_url},
        "musicbrainz": {"base_url": fake.musicbrainz_url, "coverart_base_url": fake.coverart_url,
                        "contact": "ops@example.org"},
    })
    assert resp.status_code == 200, resp.data
    return resp


def test_unconfigured_providers_answer_503_naming_the_setting(as_) -> None:
    # Admins only: indexer URLs name hosts of the inside network.
    assert as_["user"]("GET", "/settings/providers").status_code == 403
    view = as_["admin"]("GET", "/settings/providers").data
    assert view["tmdb"]["configured"] is False and view["tmdb"]["api_key_set"] is False
    assert view["musicbrainz"]["configured"] is False and view["version"] == 0
    for path, setting in (("/metadata/search?provider=tmdb&q=show&kind=tv", "tmdb.api_key"),
                          ("/metadata/tmdb/tv/1396/season/1", "tmdb.api_key"),
                          ("/metadata/musicbrainz/recording?artist=a&track=b", "musicbrainz.contact")):
        resp = as_["user"]("GET", path)
        assert resp.status_code == 503, (path, resp.data)
        error = resp.data["error"]
        assert error["code"] == "PROVIDER_NOT_CONFIGURED" and error["details"][0]["field"] == setting
        assert setting in error["message"] and error["request_id"]


def test_settings_keys_are_sealed_and_never_shown(as_, fake) -> None:
    from chalicelib.persistence.models import ControlModel

    assert as_["user"]("PATCH", "/settings/providers", {"tmdb": {"api_key": "x"}}).status_code == 403
    made = configure(as_, fake)
    assert made.data["tmdb"]["api_key_set"] is True and made.data["version"] == 1
    assert TMDB_KEY not in made.body.decode()
    assert TMDB_KEY not in as_["admin"]("GET", "/settings/providers").body.decode()
    stored = json.dumps(ControlModel.get("providers#settings").data)
    assert TMDB_KEY not in stored and "sealed" in stored
    # An indexer keeps its key when the list is sent again without it; "" removes it.
    indexer = {"name": "prowlarr", "url": fake.torznab_url, "api_key": "idx-key-1", "categories": [5000, 5040]}
    assert as_["admin"]("PATCH", "/settings/providers", {"indexers": [indexer]}).data["indexers"][0]["api_key_set"]
    kept = as_["admin"]("PATCH", "/settings/providers", {"indexers": [{**indexer, "api_key": None}]}).data
    assert kept["indexers"][0]["api_key_set"] is True and kept["tmdb"]["api_key_set"] is True
    gone = as_["admin"]("PATCH", "/settings/providers", {"tmdb": {"api_key": ""}}).data
    assert gone["tmdb"]["api_key_set"] is False and gone["version"] == 4


def test_settings_validation_and_the_ssrf_guard(as_, fake) -> None:
    bad = as_["admin"]("PATCH", "/settings/providers", {"tmdb": {"base_url": "ftp://x"}, "unknown": 1,
                                                        "musicbrainz": {"requests_per_second": 5},
                                                        "quality": {"resolutions": ["999p"]}})
    assert bad.status_code == 422
    fields = {d["field"] for d in bad.data["error"]["details"]}
    assert {"tmdb.base_url", "unknown", "musicbrainz.requests_per_second", "quality.resolutions.0"} <= fields
    twice = as_["admin"]("PATCH", "/settings/providers", {"indexers": [{"name": "a", "url": fake.torznab_url}] * 2})
    assert twice.status_code == 422
    sizes = as_["admin"]("PATCH", "/settings/providers", {"quality": {"min_size": 10, "max_size": 5}})
    assert sizes.status_code == 422 and sizes.data["error"]["details"][0]["field"] == "quality.max_size"
    # This stage's own AWS emulator is never a provider, whatever the private-network switch says.
    own = as_["admin"]("PATCH", "/settings/providers", {"tmdb": {"base_url": os.environ["AWS_ENDPOINT_URL"]}})
    assert own.status_code == 422 and own.data["error"]["details"][0]["field"] == "tmdb.base_url"
    assert "own services" in own.data["error"]["details"][0]["message"]
    assert as_["admin"]("GET", "/settings/providers").data["version"] == 0  # nothing was stored


def test_lookups_through_the_routes(as_, fake) -> None:
    configure(as_, fake)
    found = as_["viewer"]("GET", "/metadata/search?provider=tmdb&q=Show&kind=tv&year=2008")
    assert found.status_code == 200
    assert [(r["id"], r["title"], r["year"]) for r in found.data["results"]] == [("1396", "Show", 2008)]
    season = as_["viewer"]("GET", "/metadata/tmdb/tv/1396/season/1").data
    assert [e["name"] for e in season["episodes"]] == ["Pilot", "Second", "Third"]
    details = as_["viewer"]("GET", "/metadata/tmdb/tv/1396").data
    assert details["imdb_id"] == "tt0000001" and "raw" not in details
    images = as_["viewer"]("GET", "/metadata/tmdb/tv/1396/images").data
    assert images["posters"][0]["url"].startswith(fake.image_url)
    assert as_["viewer"]("GET", "/metadata/tmdb/tv/777/season/1").status_code == 404
    assert as_["viewer"]("GET", "/metadata/tmdb/book/1").status_code == 422
    assert as_["viewer"]("GET", "/metadata/tmdb/tv/abc/season/1").status_code == 422
    assert as_["viewer"]("GET", "/metadata/search?provider=tmdb&q=x&kind=recording").status_code == 422
    track = as_["viewer"]("GET", "/metadata/musicbrainz/recording?artist=The%20Loopbacks&track=Loop%20Song").data
    assert track["artist_names"] == ["The Loopbacks"] and track["album_name"] == "Local Album"
    assert track["release_date"] == {"year": 2019, "month": 5, "day": 4}
    assert track["cover_url"].endswith("/1.jpg")
    music = as_["viewer"]("GET", "/metadata/search?provider=musicbrainz&q=Loop%20Song").data
    assert music["kind"] == "recording" and music["results"][0]["artist_names"] == ["The Loopbacks"]
    assert as_["viewer"]("GET", "/metadata/musicbrainz/release/not-an-id/cover").status_code == 422
    cover = as_["viewer"]("GET", "/metadata/musicbrainz/release/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee/cover").data
    assert cover["front_url"].endswith("/1.jpg")
    # Upstream down: 502 in the envelope, never a stack trace.
    fake.fail["/3/search"] = (500, {})
    down = as_["viewer"]("GET", "/metadata/search?provider=tmdb&q=Other")
    assert down.status_code == 502 and down.data["error"]["code"] == "PROVIDER_ERROR"
