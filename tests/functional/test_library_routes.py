"""The library's NFO routes through the API (functions/rest/library.py): paths and bodies validated
(422 naming the field), owner scoping (another user's series is a 404), 503 naming tmdb.api_key
before TMDB is configured, create/409/refresh/content, a batch with created, skipped and failed
titles, and the missing list. Real downloads complete from a loopback origin; TMDB is the fake
of tests/support/providers.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client
from defusedxml.ElementTree import fromstring

from tests.support.api import UserCaller as Caller
from tests.support.auth import new_user
from tests.support.engine import wipe_tasks
from tests.support.origin import Origin, Resource
from tests.support.providers import TMDB_KEY, Movie, ProviderServer, Show, forget_providers
from tests.support.wait import wait_for

SHOW = {"tmdb_id": 1396, "title": "Show", "year": 2008, "season": 1, "kind": "tv"}
FILM = {"tmdb_id": 603, "title": "Film", "year": 1999, "kind": "movie"}


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, dict[str, str]]:
    return {role: new_user(role)[1] for role in ("admin", "user", "viewer")} | {"other": new_user("user")[1]}


@pytest.fixture()
def as_(svc, settled, people, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Caller]]:
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    forget_providers(svc)  # the svc fixture emptied the control table: no TMDB key
    svc.keys.settings._cached = None
    wipe_tasks()
    client = Client(app)
    yield {role: Caller(client, headers) for role, headers in people.items()}
    wipe_tasks()


@pytest.fixture()
def fake() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[1396] = Show(1396, "Show", "2008-01-20", {1: ["Pilot", "Second"]})
        server.movies[603] = Movie(603, "Film", "1999-03-31")
        yield server


def error(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.data
    assert set(resp.data) == {"error"}, resp.data  # the envelope
    found: dict[str, Any] = resp.data["error"]
    assert found["code"] == code, found
    return found


def test_paths_and_bodies_are_checked(as_: dict[str, Caller]) -> None:
    user = as_["user"]
    assert error(user("GET", "/library/series/1/nfo"), 422, "VALIDATION_ERROR")["details"] == [
        {"field": "kind", "message": "must be tv or movie"}]
    for bad in ("abc", "0", "-1", "99999999999", "１２"):
        assert error(user("GET", f"/library/tv/{bad}/nfo"), 422, "VALIDATION_ERROR")["details"][0]["field"] == "tmdb_id"
    assert error(user("POST", "/library/tv/1/nfo", {"overwrite": "maybe"}), 422,
                 "VALIDATION_ERROR")["details"][0]["field"] == "overwrite"
    assert error(user("POST", "/library/tv/1/nfo", {"colour": 1}), 422, "VALIDATION_ERROR")["details"] == [
        {"field": "colour", "message": "is not a known field"}]
    assert (
        error(user("POST", "/library/nfo/batch", {"items": []}), 422, "VALIDATION_ERROR")["details"][0]["field"]
        == "items"
    )
    too_many = [{"kind": "tv", "tmdb_id": n} for n in range(1, 102)]
    assert error(user("POST", "/library/nfo/batch", {"items": too_many}), 422, "VALIDATION_ERROR")
    assert error(user("POST", "/library/nfo/batch", {"items": [{"kind": "music", "tmdb_id": 1}]}), 422,
                 "VALIDATION_ERROR")["details"][0]["field"] == "items.0.kind"
    assert error(user("GET", "/library/nfo/missing?limit=0"), 422, "VALIDATION_ERROR")["details"][0]["field"] == "limit"
    assert error(user("GET", "/library/tv/4242/nfo"), 404, "NOT_FOUND")
    assert error(as_["viewer"]("POST", "/library/tv/4242/nfo", {}), 403, "FORBIDDEN")


def test_a_users_series_and_film_get_nfos_others_see_nothing(as_: dict[str, Caller], workers: Any, origin: Origin,
                                                             fake: ProviderServer, svc: Any) -> None:
    user, other = as_["user"], as_["other"]
    path = f"lib-{uuid.uuid4().hex[:8]}"
    added = []
    for name, meta in (("e1.mkv", {**SHOW, "episode": 1}), ("e2.mkv", {**SHOW, "episode": 2}), ("f.mkv", FILM)):
        origin.add(f"/{name}", Resource(data=name.encode() * 100))
        resp = user("POST", "/downloads", {"url": origin.url(f"/{name}"), "metadata": meta, "path": path})
        assert resp.status_code == 201, resp.data
        added.append(resp.data["id"])

    def done() -> bool:
        states = [user("GET", f"/downloads/{i}").data["state"] for i in added]
        assert "failed" not in states
        return all(s == "completed" for s in states)

    wait_for(done, 60, 0.2, "3 downloads to complete")
    nfo = "/library/tv/1396/nfo"
    check = user("GET", nfo).data
    assert check["folder"] == f"{path}/Show (2008)/" and check["has_nfo"] is False
    assert check["videos"] == {"total": 2, "present": 2, "outside_folder": 0}
    assert error(other("GET", nfo), 404, "NOT_FOUND")  # not theirs

    not_configured = error(user("POST", nfo, {}), 503, "PROVIDER_NOT_CONFIGURED")
    assert not_configured["details"] == [{"field": "tmdb.api_key", "message": "is not set"}]
    assert "tmdb.api_key" in not_configured["message"]
    configured = as_["admin"]("PATCH", "/settings/providers", {
        "tmdb": {"api_key": TMDB_KEY, "base_url": fake.tmdb_url, "image_base_url": fake.image_url}})
    assert configured.status_code == 200, configured.data

    made = user("POST", nfo, {"download_fanart": False})
    assert made.status_code == 201, made.data
    assert made.data["written"][0] == f"{path}/Show (2008)/tvshow.nfo" and made.data["queued_seasons"] == []
    assert made.data["media_files"]["has_poster"] and not made.data["media_files"]["has_fanart"]
    assert error(user("POST", nfo, {}), 409, "CONFLICT")["message"].endswith(
        "(send overwrite: true, or PUT to refresh it)"
    )
    assert error(other("POST", nfo, {}), 404, "NOT_FOUND")
    assert error(other("GET", nfo + "/content"), 404, "NOT_FOUND")
    content = user("GET", nfo + "/content").data
    assert fromstring(content["content"].encode()).findtext("title") == "Show"
    refreshed = user("PUT", nfo, {"episodes": False})
    assert refreshed.status_code == 200 and refreshed.data["media_files"]["has_fanart"]
    assert user("POST", nfo, {"overwrite": True}).status_code == 201

    titles = user("GET", "/library").data["titles"]
    assert sorted((t["kind"], t["tmdb_id"], t["has_nfo"]) for t in titles) == [
        ("movie", 603, False),
        ("tv", 1396, True),
    ]
    assert other("GET", "/library").data["titles"] == []
    missing = user("GET", "/library/nfo/missing").data
    assert [(t["kind"], t["tmdb_id"], t["title"], t["folder"]) for t in missing["titles"]] == [
        ("movie", 603, "Film", f"{path}/Film (1999)/")]
    assert other("GET", "/library/nfo/missing").data["titles"] == []

    batch = user("POST", "/library/nfo/batch", {"items": [
        {"kind": "tv", "tmdb_id": 1396}, {"kind": "movie", "tmdb_id": 603}, {"kind": "movie", "tmdb_id": 4242}]})
    assert batch.status_code == 200, batch.data
    assert [(r["tmdb_id"], r["status"]) for r in batch.data["results"]] == [
        (1396, "skipped"), (603, "created"), (4242, "failed")]
    film = fromstring(svc.clients.s3.get_object(Bucket=svc.config.bucket,
                                                Key=f"{path}/Film (1999)/movie.nfo")["Body"].read())
    assert film.tag == "movie" and film.findtext("title") == "Film" and film.findtext("uniqueid[@type='imdb']")
    assert user("GET", "/library/nfo/missing").data["titles"] == []
    assert other("POST", "/library/nfo/batch", {"items": [{"kind": "movie", "tmdb_id": 603}]}).data["failed"] == 1


def test_what_does_not_fit_in_the_request_is_finished_by_a_worker(as_: dict[str, Caller], workers: Any,
                                                                  origin: Origin, fake: ProviderServer, svc: Any,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.sidecars import service

    user = as_["user"]
    path = f"lib-{uuid.uuid4().hex[:8]}"
    ids = []
    for name, meta in (("q1.mkv", {**SHOW, "episode": 1}), ("q2.mkv", {**SHOW, "episode": 2}), ("qf.mkv", FILM)):
        origin.add(f"/{name}", Resource(data=name.encode() * 100))
        ids.append(
            user("POST", "/downloads", {"url": origin.url(f"/{name}"), "metadata": meta, "path": path}).data["id"]
        )
    wait_for(lambda: all(user("GET", f"/downloads/{i}").data["state"] == "completed" for i in ids), 60, 0.2,
             "3 downloads to complete")
    assert as_["admin"]("PATCH", "/settings/providers", {
        "tmdb": {"api_key": TMDB_KEY, "base_url": fake.tmdb_url, "image_base_url": fake.image_url}}).status_code == 200

    monkeypatch.setattr(service, "API_BUDGET_SECONDS", 0.0)  # every request is out of time at once
    made = user("POST", "/library/tv/1396/nfo", {})
    assert made.status_code == 201 and made.data["queued_seasons"] == [1], made.data
    assert [e["has_nfo"] for e in made.data["episodes"]] == [False, False]
    batch = user("POST", "/library/nfo/batch", {"items": [{"kind": "movie", "tmdb_id": 603}]}).data
    assert batch["queued"] == 1 and batch["results"][0]["status"] == "queued"

    def finished() -> bool:
        episodes = user("GET", "/library/tv/1396/nfo").data["episodes"]
        return all(e["has_nfo"] for e in episodes) and user("GET", "/library/movie/603/nfo").data["has_nfo"]

    wait_for(finished, 60, 0.3, "the workers to write the queued episode NFOs and the film's NFO")
    s3, bucket = svc.clients.s3, svc.config.bucket
    episode = fromstring(
        s3.get_object(Bucket=bucket, Key=f"{path}/Show (2008)/Season 01/Show - S01E02.nfo")["Body"].read()
    )
    assert (episode.findtext("title"), episode.findtext("episode")) == ("Second", "2")
