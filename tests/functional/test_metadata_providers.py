"""The TMDB and MusicBrainz clients against a fake of each on loopback (tests/support/providers.py),
with the real cache and rate-limit items in the emulator's DynamoDB: answers, caching in both
levels, the shared rate limit, upstream errors, credentials kept out of messages, and the
SSRF guard on base URLs and redirects."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterator

import pytest

from chalicelib.adapters.safehttp import session
from chalicelib.adapters.urlguard import UrlGuard
from chalicelib.metadata.providers.cache import ResponseCache
from chalicelib.metadata.providers.errors import (
    ProviderBusy,
    ProviderFailed,
    ProviderNotConfigured,
    ProviderNotFound,
    ProviderRefused,
)
from chalicelib.metadata.providers.http import ProviderHttp
from chalicelib.metadata.providers.models import MusicBrainzSettings, TmdbSettings
from chalicelib.metadata.providers.musicbrainz import MusicBrainzClient
from chalicelib.metadata.providers.pacing import SharedPacer
from chalicelib.metadata.providers.persistence import CacheItems, PaceSlots
from chalicelib.metadata.providers.tmdb import TmdbClient
from tests.support.providers import TMDB_KEY, ProviderServer, Recording, Show


@pytest.fixture()
def fake() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[1396] = Show(1396, "Show", "2008-01-20", {1: ["Pilot", "Second", "Third"], 2: ["Again"]})
        server.recordings.append(Recording("rec-1", "Loop Song", "The Loopbacks", "rel-1", "Local Album",
                                           "2019-05", disc=2, track=7))
        server.covers["rel-1"] = True
        yield server


def http(guard: UrlGuard | None = None) -> ProviderHttp:
    """A fresh provider HTTP side (an empty in-process cache: a new Lambda sandbox), sharing
    the DynamoDB cache and rate-limit items."""
    guard = guard or UrlGuard(True)
    return ProviderHttp(session(guard), guard, ResponseCache(CacheItems()), SharedPacer(PaceSlots()))


def tmdb_settings(fake: ProviderServer, **kw: object) -> TmdbSettings:
    return TmdbSettings(base_url=fake.tmdb_url, image_base_url=fake.image_url, cache_seconds=3600,
                        **kw)  # type: ignore[arg-type]


@pytest.fixture()
def clean_cache(emulator: str) -> None:
    CacheItems().forget("")


def test_tmdb_search_details_season_images(emulator, clean_cache, fake) -> None:
    client = TmdbClient(http(), tmdb_settings(fake), TMDB_KEY)
    found = client.search("show", "tv", year=2008)
    assert [(m.id, m.title, m.year, m.kind) for m in found] == [("1396", "Show", 2008, "tv")]
    assert found[0].image_url == f"{fake.image_url}/w342/poster-1396.jpg"
    assert fake.seen("/3/search/tv")[0].query == {"query": "show", "first_air_date_year": "2008", "page": "1",
                                                  "include_adult": "false", "language": "en-US", "api_key": TMDB_KEY}

    details = client.details("tv", 1396)
    assert (details.title, details.year, details.imdb_id, details.tvdb_id, details.runtime) == (
        "Show", 2008, "tt0000001", 100001, 45)
    assert [s.season_number for s in details.seasons] == [1, 2] and details.studios == ["Loopback TV"]
    full = client.details("tv", 1396, ("credits", "images"))
    assert full.raw["credits"]["cast"][0]["name"] == "Ann Actor" and full.raw["images"]["posters"]
    assert fake.seen("/3/tv/1396")[-1].query["append_to_response"] == "external_ids,credits,images"
    assert "original" in client.configuration()["images"]["poster_sizes"]

    season = client.season(1396, 1)
    assert [(e.episode_number, e.name) for e in season.episodes] == [(1, "Pilot"), (2, "Second"), (3, "Third")]
    assert season.episodes[0].still_url == f"{fake.image_url}/original/still-1396-1-1.jpg"
    assert season.raw["episodes"][0]["guest_stars"] == []

    images = client.images("tv", 1396)
    assert images.posters[0].file_path == "/poster-best-1396.jpg"  # the best rated first
    assert images.backdrops[0].width == 3840 and images.logos[0].file_path == "/logo-1396.png"
    body, ctype = client.fetch_image(images.posters[0].file_path, "w500")
    assert body.startswith(b"\x89PNG") and ctype == "image/png"
    assert fake.seen("/t/p/w500/poster-best-1396.jpg")

    with pytest.raises(ProviderNotFound):
        client.season(1396, 9)


def test_tmdb_answers_are_cached_in_process_and_in_dynamodb(emulator, clean_cache, fake) -> None:
    settings = tmdb_settings(fake)
    first = http()
    TmdbClient(first, settings, TMDB_KEY).season(1396, 1)
    TmdbClient(first, settings, TMDB_KEY).season(1396, 1)
    assert len(fake.seen("/3/tv/1396/season/1")) == 1
    assert first.cache.hits == 1
    # Another sandbox (nothing in its memory) finds it in DynamoDB: no second request.
    other = http()
    again = TmdbClient(other, settings, TMDB_KEY).season(1396, 1)
    assert [e.name for e in again.episodes] == ["Pilot", "Second", "Third"]
    assert len(fake.seen("/3/tv/1396/season/1")) == 1 and other.cache.hits == 1
    # The key is not part of the cached item's key: a changed key still hits; a different
    # language (another answer) does not.
    TmdbClient(http(), settings, "another-key-is-refused").season(1396, 1)
    assert len(fake.seen("/3/tv/1396/season/1")) == 1
    TmdbClient(http(), TmdbSettings(**{**settings.__dict__, "language": "de-DE"}), TMDB_KEY).season(1396, 1)
    assert len(fake.seen("/3/tv/1396/season/1")) == 2


def test_tmdb_bearer_token_and_refused_key_never_shown(emulator, clean_cache, fake) -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.fake-read-access-token"
    fake.tmdb_key = token
    TmdbClient(http(), tmdb_settings(fake), token).search("show", "tv")
    seen = fake.seen("/3/search/tv")[-1]
    assert seen.headers["authorization"] == f"Bearer {token}" and "api_key" not in seen.query
    with pytest.raises(ProviderFailed) as refused:
        TmdbClient(http(), tmdb_settings(fake), "wrong-key-123456").search("another show", "tv")
    assert refused.value.status == 502 and "wrong-key" not in refused.value.message
    assert "HTTP 401" in refused.value.message


def test_not_configured_names_the_setting() -> None:
    with pytest.raises(ProviderNotConfigured) as tmdb:
        TmdbClient(http(), TmdbSettings(), "")
    assert tmdb.value.status == 503 and tmdb.value.details == [{"field": "tmdb.api_key", "message": "is not set"}]
    with pytest.raises(ProviderNotConfigured) as mb:
        MusicBrainzClient(http(), MusicBrainzSettings(contact=" "))
    assert mb.value.details[0]["field"] == "musicbrainz.contact"


def test_upstream_rate_limit_answers_busy_with_retry_after(emulator, clean_cache, fake) -> None:
    fake.fail["/3/search"] = (429, {"Retry-After": "30"})
    with pytest.raises(ProviderBusy) as busy:
        TmdbClient(http(), tmdb_settings(fake), TMDB_KEY).search("show", "tv")
    assert busy.value.status == 503 and busy.value.headers["Retry-After"] == "30"
    assert len(fake.seen("/3/search")) == 1  # a long wait is not waited for
    fake.fail["/3/search"] = (429, {"Retry-After": "1"})
    with pytest.raises(ProviderBusy):
        TmdbClient(http(), tmdb_settings(fake), TMDB_KEY).search("show", "tv")
    assert len(fake.seen("/3/search")) == 3  # a short one is tried once more


def test_answers_that_are_too_large_or_not_json_are_refused(emulator, clean_cache, fake) -> None:
    client = TmdbClient(http(), tmdb_settings(fake), TMDB_KEY)
    fake.bodies["/3/search/tv"] = b"[" + b"0," * (3 * 1024 * 1024) + b"0]"  # 6 MiB of JSON
    with pytest.raises(ProviderFailed, match="larger than 4194304 bytes"):
        client.search("show", "tv")
    fake.bodies["/3/search/tv"] = b"<html>maintenance</html>"
    with pytest.raises(ProviderFailed, match="not JSON"):
        client.search("show", "tv")
    fake.bodies["/3/search/tv"] = b"[1, 2]"
    with pytest.raises(ProviderFailed, match="not an object"):
        client.search("show", "tv")


def test_ssrf_guard_refuses_base_urls_and_redirects(emulator, clean_cache, fake) -> None:
    strict = UrlGuard(False)  # a deployed stage: loopback is not public
    with pytest.raises(ProviderRefused) as refused:
        TmdbClient(http(strict), tmdb_settings(fake), TMDB_KEY)
    assert refused.value.details[0]["field"] == "tmdb.base_url" and "loopback" in refused.value.message
    with pytest.raises(ProviderRefused):
        MusicBrainzClient(http(strict), MusicBrainzSettings(base_url=fake.musicbrainz_url, contact="ops@example.org"))
    with pytest.raises(ProviderRefused):
        MusicBrainzClient(http(strict), MusicBrainzSettings(base_url="http://169.254.169.254/ws/2", contact="x@y.z"))
    assert fake.requests == []
    # A provider that redirects to a link-local (cloud metadata) address is not followed.
    link_local = UrlGuard(False, refuse=lambda ip: "link-local" if ip in ipaddress.ip_network("169.254.0.0/16")
                          else None)
    fake.fail["/3/search"] = (302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    with pytest.raises(ProviderRefused) as hop:
        TmdbClient(http(link_local), tmdb_settings(fake), TMDB_KEY).search("show", "tv")
    assert "link-local" in hop.value.message


def test_musicbrainz_recording_in_sharktooths_shape_with_cover(emulator, clean_cache, fake) -> None:
    settings = MusicBrainzSettings(base_url=fake.musicbrainz_url, coverart_base_url=fake.coverart_url,
                                   contact="ops@example.org")
    client = MusicBrainzClient(http(), settings)
    track = client.recording("The Loopbacks", "Loop Song")
    assert track.view() == {
        "artist_names": ["The Loopbacks"], "track_name": "Loop Song", "album_name": "Local Album",
        "track_number": 7, "disc_number": 2, "release_date": {"year": 2019, "month": 5, "day": None},
        "recording_id": "rec-1", "release_id": "rel-1", "length_ms": 215000, "cover_url": None,
    }
    seen = fake.seen("/ws/2/recording")[-1]
    assert seen.query["fmt"] == "json" and seen.query["query"] == 'artist:"The Loopbacks" AND recording:"Loop Song"'
    assert seen.headers["user-agent"].startswith("Haul/") and "ops@example.org" in seen.headers["user-agent"]
    cover = client.cover("rel-1")
    assert cover is not None and cover.front_url and cover.front_url.endswith("/rel-1/1.jpg")
    assert client.cover("rel-none") is None
    releases = client.search("Local Album", "release")
    assert [(r.id, r.title, r.artist_names, r.year) for r in releases] == [("rel-1", "Local Album", ["The Loopbacks"],
                                                                           2019)]
    with pytest.raises(ProviderNotFound):
        client.recording("Nobody", "Nothing")


@pytest.mark.alone
def test_musicbrainz_requests_are_spaced_a_second_apart_across_clients(emulator, clean_cache, fake) -> None:
    # Two "sandboxes" (separate HTTP sides and caches) share the one slot item in DynamoDB.
    settings = MusicBrainzSettings(base_url=fake.musicbrainz_url, contact="ops@example.org", cache_seconds=0)
    a, b = MusicBrainzClient(http(), settings), MusicBrainzClient(http(), settings)
    started = time.monotonic()
    for client, artist in ((a, "The Loopbacks"), (b, "Loopbacks"), (a, "Loopback")):
        client.search(artist, "recording")
    times = [r.at for r in fake.seen("/ws/2/")]
    assert len(times) == 3
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.9, gaps  # one request a second (less a little for the server's clock)
    assert time.monotonic() - started >= 1.9
