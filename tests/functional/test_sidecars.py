"""Sidecars against a fake TMDB on loopback (tests/support/providers.py) through the real
provider client (its SSRF guard, cache and rate limit) and the emulator's bucket: a series'
NFOs and art written and parsed back, images refused by the guard, TMDB not configured."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from defusedxml.ElementTree import fromstring

from chalicelib.adapters.safehttp import session
from chalicelib.adapters.urlguard import UrlGuard
from chalicelib.api.errors import ApiError
from chalicelib.metadata.providers.cache import ResponseCache
from chalicelib.metadata.providers.http import ProviderHttp
from chalicelib.metadata.providers.models import TmdbSettings
from chalicelib.metadata.providers.pacing import SharedPacer
from chalicelib.metadata.providers.persistence import CacheItems, PaceSlots
from chalicelib.metadata.providers.tmdb import TmdbClient
from chalicelib.sidecars.models import Kind, MediaFile, Title
from chalicelib.sidecars.persistence import SidecarObjects
from chalicelib.sidecars.providers import TmdbSource
from chalicelib.sidecars.service import Options, SidecarService
from tests.support.providers import PNG, TMDB_KEY, ProviderServer, Show

SHOW_ID = 1396


class Providers:
    """The provider service's one method the sidecars use: a TMDB client from the settings."""

    def __init__(self, api: ProviderServer, images: ProviderServer, key: str = TMDB_KEY,
                 guard: UrlGuard | None = None) -> None:
        guard = guard or UrlGuard(True)
        self.http = ProviderHttp(session(guard), guard, ResponseCache(CacheItems()), SharedPacer(PaceSlots()))
        self.settings = TmdbSettings(base_url=api.tmdb_url, image_base_url=images.image_url)
        self.key = key

    def tmdb(self) -> TmdbClient:
        return TmdbClient(self.http, self.settings, self.key)


class Library:
    def __init__(self, files: list[MediaFile]) -> None:
        self._files = files

    def files(self, owner: str, kind: Kind, tmdb_id: int) -> list[MediaFile]:
        return list(self._files) if (owner, kind, tmdb_id) == ("alice", Kind.TV, SHOW_ID) else []

    def titles(self, owner: str, limit: int) -> list[Title]:
        return [Title(Kind.TV, SHOW_ID)]


@pytest.fixture()
def fakes() -> Iterator[tuple[ProviderServer, ProviderServer]]:
    with ProviderServer() as api, ProviderServer() as images:
        api.shows[SHOW_ID] = Show(SHOW_ID, "Show & <Co>", "2008-01-20", {1: ["Pilot", "Cat's in the \"Bag\"", "Third"]})
        yield api, images


@pytest.fixture()
def folder(svc: Any) -> str:
    CacheItems().forget("")
    return f"sidecars-{uuid.uuid4().hex[:8]}/Show (2008)/"


def videos(svc: Any, folder: str) -> list[MediaFile]:
    files = [MediaFile(f"d{n}", f"{folder}Season 01/Show - S01E{n:02d}.mkv", 1, n) for n in (1, 2, 3)]
    for f in files:
        svc.clients.s3.put_object(Bucket=svc.config.bucket, Key=f.key, Body=b"video")
    return files


def service(svc: Any, files: list[MediaFile], providers: Providers) -> SidecarService:
    source = TmdbSource(providers)  # type: ignore[arg-type]
    return SidecarService(Library(files), source, source, SidecarObjects(svc.clients.s3, svc.config.bucket))


def test_a_series_gets_its_nfos_and_art_from_tmdb(svc: Any, fakes: Any, folder: str) -> None:
    api, images = fakes
    sidecars = service(svc, videos(svc, folder), Providers(api, images))
    done = sidecars.create("alice", "alice", Kind.TV, SHOW_ID, Options())
    assert done["folder"] == folder and done["warnings"] == [] and done["queued_seasons"] == []
    s3, bucket = svc.clients.s3, svc.config.bucket

    show = fromstring(s3.get_object(Bucket=bucket, Key=folder + "tvshow.nfo")["Body"].read())
    assert show.tag == "tvshow" and show.findtext("title") == "Show & <Co>"
    assert show.findtext("uniqueid[@type='tmdb']") == str(SHOW_ID)
    assert show.findtext("uniqueid[@type='imdb']") == "tt0000001"
    assert show.findtext("actor/name") == "Ann Actor" and show.findtext("studio") == "Loopback TV"
    assert show.findtext("thumb[@aspect='poster']", "").startswith(images.image_url + "/w780/")
    for n, title in ((1, "Pilot"), (2, "Cat's in the \"Bag\""), (3, "Third")):
        episode = fromstring(
            s3.get_object(Bucket=bucket, Key=f"{folder}Season 01/Show - S01E{n:02d}.nfo")["Body"].read()
        )
        assert (episode.tag, episode.findtext("title"), episode.findtext("episode")) == (
            "episodedetails",
            title,
            str(n),
        )
        assert episode.findtext("showtitle") == "Show & <Co>"

    # The fake serves PNGs: each art is stored under the name its bytes deserve.
    assert done["media_files"] == {"has_poster": True, "poster_key": folder + "poster.png",
                                   "has_fanart": True, "fanart_key": folder + "fanart.png",
                                   "has_logo": True, "logo_key": folder + "clearlogo.png", "season_posters": [1]}
    poster = s3.get_object(Bucket=bucket, Key=folder + "poster.png")
    assert poster["Body"].read() == PNG and poster["ContentType"] == "image/png"
    assert poster["Metadata"] == {"haul-owner": "alice", "haul-sidecar": "true"}
    assert sorted(r.path for r in images.seen("/t/p/")) == [
        "/t/p/w1280/backdrop-1396.jpg", "/t/p/w500/logo-1396.png", "/t/p/w780/poster-1396.jpg",
        "/t/p/w780/season-1396-1.jpg"]
    assert s3.get_object(Bucket=bucket, Key=folder + "season01-poster.png")["Body"].read() == PNG
    assert sidecars.status("alice", Kind.TV, SHOW_ID)["has_nfo"] is True
    assert "Show &amp; &lt;Co&gt;" in sidecars.content("alice", Kind.TV, SHOW_ID)["content"]


def test_images_go_through_the_ssrf_guard(svc: Any, fakes: Any, folder: str) -> None:
    api, images = fakes
    # The images' server counts as one of Haul's own services: the guard refuses it.
    guard = UrlGuard(True, own_ports=[images.port])
    sidecars = service(svc, videos(svc, folder), Providers(api, images, guard=guard))
    done = sidecars.create("alice", "alice", Kind.TV, SHOW_ID, Options(episodes=False))
    assert done["has_nfo"] is True
    assert not done["media_files"]["has_poster"] and not done["media_files"]["has_logo"]
    assert len(done["warnings"]) == 4 and all("own services" in w for w in done["warnings"]), done["warnings"]
    assert images.seen("/t/p/") == []


def test_tmdb_without_a_key_is_a_503_naming_the_setting(svc: Any, fakes: Any, folder: str) -> None:
    api, images = fakes
    sidecars = service(svc, videos(svc, folder), Providers(api, images, key=""))
    with pytest.raises(ApiError) as caught:
        sidecars.create("alice", "alice", Kind.TV, SHOW_ID, Options())
    assert caught.value.status == 503 and "tmdb.api_key" in caught.value.message
    assert caught.value.code == "PROVIDER_NOT_CONFIGURED"
    assert caught.value.details == [{"field": "tmdb.api_key", "message": "is not set"}]
    assert api.seen("/3/") == []


class SharedLibrary:
    """Each owner's completed episodes of the one show (their downloads may share a folder)."""

    def __init__(self, files: dict[str, list[MediaFile]]) -> None:
        self._files = files

    def files(self, owner: str, kind: Kind, tmdb_id: int) -> list[MediaFile]:
        return list(self._files.get(owner, [])) if (kind, tmdb_id) == (Kind.TV, SHOW_ID) else []

    def titles(self, owner: str, limit: int) -> list[Title]:
        return [Title(Kind.TV, SHOW_ID)] if owner in self._files else []


def test_users_sharing_a_folder_do_not_touch_each_others_sidecars(svc: Any, fakes: Any, folder: str) -> None:
    """Alice and Bob each have episodes of the show in the same folder (one template, no per-user
    path). Bob's create/refresh never replaces or deletes Alice's sidecars, and Bob does not read
    Alice's NFO as his; his own episode's NFO is written beside his episode."""
    api, images = fakes
    s3, bucket = svc.clients.s3, svc.config.bucket
    everything = videos(svc, folder)
    library = SharedLibrary({"alice": everything[:2], "bob": everything[2:]})
    source = TmdbSource(Providers(api, images))  # type: ignore[arg-type]
    sidecars = SidecarService(library, source, source, SidecarObjects(s3, bucket))

    done = sidecars.create("alice", "alice", Kind.TV, SHOW_ID, Options())
    alices = [k for k in done["written"] if not k.endswith("E03.nfo")]
    assert folder + "tvshow.nfo" in alices and folder + "poster.png" in alices and len(alices) == 7, done
    bob_nfo = f"{folder}Season 01/Show - S01E03.nfo"
    assert bob_nfo not in done["written"]

    view = sidecars.status("bob", Kind.TV, SHOW_ID)
    assert view["has_nfo"] is False and view["nfo_last_modified"] is None
    with pytest.raises(ApiError) as caught:
        sidecars.content("bob", Kind.TV, SHOW_ID)
    assert caught.value.status == 404
    with pytest.raises(ApiError) as caught:
        sidecars.refresh("bob", "bob", Kind.TV, SHOW_ID, Options())
    assert caught.value.status == 404
    assert sidecars.titles("bob", 10)["titles"][0]["has_nfo"] is False

    bobs = sidecars.create("bob", "bob", Kind.TV, SHOW_ID, Options(), overwrite=True)
    assert bobs["written"] == [bob_nfo], bobs
    assert any("tvshow.nfo is another user's" in w for w in bobs["warnings"]), bobs["warnings"]
    for key in alices:  # still there, still Alice's
        assert s3.head_object(Bucket=bucket, Key=key)["Metadata"]["haul-owner"] == "alice", key
    assert s3.head_object(Bucket=bucket, Key=bob_nfo)["Metadata"]["haul-owner"] == "bob"
    assert sidecars.status("alice", Kind.TV, SHOW_ID)["has_nfo"] is True
    assert "Show &amp; &lt;Co&gt;" in sidecars.content("alice", Kind.TV, SHOW_ID)["content"]
