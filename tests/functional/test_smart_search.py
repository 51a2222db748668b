"""Smart search and smart grab through the API (functions/rest/search.py): a fake TMDB and a fake
Torznab indexer on loopback (tests/support/providers.py), the caller's own feed on a loopback
feed server, candidates grouped by episode with the quality preference applied, one batch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from chalice.test import Client

from tests.support.api import UserCaller
from tests.support.auth import new_user
from tests.support.feedserver import Doc, Entry, FeedServer, rss2
from tests.support.providers import INDEXER_KEY, TMDB_KEY, Movie, ProviderServer, Show, Torrent, forget_providers

MB = 1024**2


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, dict[str, str]]:
    return {role: new_user(role)[1] for role in ("admin", "user", "viewer")} | {"other": new_user("user")[1]}


@pytest.fixture()
def as_(svc, settled, people, monkeypatch: pytest.MonkeyPatch) -> dict[str, UserCaller]:
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    forget_providers(svc)
    client = Client(app)
    return {role: UserCaller(client, headers) for role, headers in people.items()}


@pytest.fixture()
def fake() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[1396] = Show(1396, "Show", "2008-01-20", {1: ["Pilot", "Second", "Third"], 2: ["Later"]})
        server.movies[603] = Movie(603, "Film", "1999-03-31")
        f = server.base + "/files/"
        server.torrents += [
            # A download link with the indexer's key in it, as Jackett's and Prowlarr's are.
            Torrent("Show.S01E01.720p.HDTV.x264-AAA", f + f"s01e01-720.mkv?apikey={INDEXER_KEY}", 700 * MB),
            Torrent("Show.S01E01.1080p.WEB.h264-BBB", f + "s01e01-1080.mkv", 1500 * MB),
            Torrent("Show.S01E02.1080p.WEB.h264-BAD", f + "s01e02-bad.mkv", 1400 * MB),
            Torrent("Show.S01E02.1080p.WEB.h264-MAG", "magnet:?xt=urn:btih:0123456789abcdef", 1400 * MB),
            Torrent("Other.Show.S01E03.1080p.WEB.h264-CCC", f + "other-s01e03.mkv", 1400 * MB),
            Torrent("Show.S02E01.1080p.WEB.h264-BBB", f + "s02e01.mkv", 1400 * MB),
            Torrent("Film.1999.1080p.BluRay.x264-FFF", f + "film-1080.mkv", 8000 * MB, category=2040),
            Torrent("Film.1999.720p.BluRay.x264-FFF", f + "film-720.mkv", 4000 * MB, category=2040),
        ]
        yield server


@pytest.fixture()
def configured(as_, fake) -> ProviderServer:
    resp = as_["admin"]("PATCH", "/settings/providers", {
        "tmdb": {"api_key": TMDB_KEY, "base_url": fake.tmdb_url, "image_base_url": fake.image_url},
        "indexers": [{"name": "fake", "url": fake.torznab_url, "api_key": INDEXER_KEY}],
        "quality": {"resolutions": ["1080p", "720p"], "avoid_groups": ["bad"]},
    })
    assert resp.status_code == 200, resp.data
    return fake


def subscribe(caller: UserCaller, feed_server: FeedServer, path: str, entries: list[Entry]) -> str:
    url = feed_server.add(path, Doc(body=rss2("my feed", entries)))
    # A rule nothing matches: the items are recorded, never enqueued by the feed itself.
    made = caller("POST", "/feeds", {"url": url, "name": "my shows", "rules": [{"include": ["never-matches"]}]})
    assert made.status_code == 201, made.data
    assert caller("POST", f"/feeds/{made.data['id']}/refresh").status_code == 200
    return str(made.data["id"])


@pytest.fixture()
def feed(as_, configured, feed_server) -> Iterator[str]:
    f = feed_server.url("/files/")
    feed_id = subscribe(as_["user"], feed_server, "/shows.xml", [
        Entry("Show.S01E02.720p.WEB.x264-DDD", f + "p/1", "g1", f + "s01e02-720.mkv", 600 * MB),
        Entry("Show S01 1080p WEB Complete-EEE", f + "p/2", "g2", f + "s01-pack.mkv", 9000 * MB),
    ])
    yield feed_id
    assert as_["user"]("DELETE", f"/feeds/{feed_id}").status_code == 200


def test_smart_search_groups_candidates_by_episode(as_, configured, feed) -> None:
    resp = as_["user"]("POST", "/search/smart", {"tmdb_id": 1396, "kind": "tv", "season": 1})
    assert resp.status_code == 200, resp.data
    body = resp.data
    assert (body["title"], body["year"], body["season"]) == ("Show", 2008, 1)
    episodes = {e["episode"]: e for e in body["episodes"]}
    assert [(e["episode"], e["title"]) for e in body["episodes"]] == [(1, "Pilot"), (2, "Second"), (3, "Third")]
    first = episodes[1]["candidates"]
    assert [(c["title"], c["quality"], c["best"]) for c in first] == [
        ("Show.S01E01.1080p.WEB.h264-BBB", "1080p", True), ("Show.S01E01.720p.HDTV.x264-AAA", "720p", False)]
    assert first[1]["url"].endswith("s01e01-720.mkv?apikey=***") and INDEXER_KEY not in resp.body.decode()
    assert first[0]["size"] == 1500 * MB and first[0]["source"] == {"type": "indexer", "name": "fake", "id": None}
    second = episodes[2]["candidates"]
    assert [(c["title"], c["best"], c["refused"]) for c in second] == [
        ("Show.S01E02.720p.WEB.x264-DDD", True, None),
        ("Show.S01E02.1080p.WEB.h264-BAD", False, "release group BAD is avoided")]
    assert second[0]["source"] == {"type": "feed", "name": "my shows", "id": feed}
    assert episodes[3]["candidates"] == [] and body["missing_episodes"] == [3]
    assert [p["title"] for p in body["season_packs"]] == ["Show S01 1080p WEB Complete-EEE"]
    assert body["unmatched"] >= 2  # another show, another season
    sources = {s["name"]: s for s in body["sources"]}
    assert sources["fake"]["error"] is None and sources["your feeds"]["found"] == 2
    # The magnet link never became a candidate; the indexer was asked for a season search.
    assert all(not c["url"].startswith("magnet:") for e in body["episodes"] for c in e["candidates"])
    asked = configured.seen("/torznab/api")[-1].query
    assert (asked["t"], asked["q"], asked["season"], asked["cat"], asked["apikey"]) == (
        "tvsearch", "Show", "1", "5000", INDEXER_KEY)


def test_smart_search_by_title_movies_and_other_users_feeds(as_, configured, feed) -> None:
    by_title = as_["other"]("POST", "/search/smart", {"title": "show", "year": 2008})
    assert by_title.status_code == 200 and by_title.data["tmdb_id"] == 1396
    # Another user's search does not see the first user's feed items.
    assert {s["name"]: s["found"] for s in by_title.data["sources"]}["your feeds"] == 0
    film = as_["viewer"]("POST", "/search/smart", {"title": "Film", "kind": "movie"}).data
    assert film["tmdb_id"] == 603 and film["episodes"] == []
    assert [(c["quality"], c["best"]) for c in film["candidates"]] == [("1080p", True), ("720p", False)]
    assert as_["user"]("POST", "/search/smart", {"title": "Nothing Like It"}).status_code == 404
    bad = as_["user"]("POST", "/search/smart", {"kind": "tv"})
    assert bad.status_code == 422 and "tmdb_id" in bad.data["error"]["message"]


def test_smart_grab_makes_one_batch_of_the_best_files(as_, configured, feed) -> None:
    assert as_["viewer"]("POST", "/search/smart-grab", {"tmdb_id": 1396}).status_code == 403
    resp = as_["user"]("POST", "/search/smart-grab", {"title": "Show", "year": 2008, "season": 1})
    assert resp.status_code == 201, resp.data
    body = resp.data
    assert body["batch_name"] == "Show S01" and body["tasks_created"] == 2 and body["missing_episodes"] == [3]
    assert [(p["episodes"], p["title"]) for p in body["picked"]] == [
        ([1], "Show.S01E01.1080p.WEB.h264-BBB"), ([2], "Show.S01E02.720p.WEB.x264-DDD")]
    batch = as_["user"]("GET", f"/batches/{body['batch_id']}").data
    assert batch["batch"]["name"] == "Show S01"
    tasks = {t["url"]: t for t in batch["tasks"]}
    assert set(tasks) == {p["url"] for p in body["picked"]}
    meta = tasks[body["picked"][0]["url"]]["metadata"]
    assert meta == {"kind": "tv", "tmdb_id": 1396, "title": "Show", "year": 2008, "imdb_id": "tt0000001",
                    "season": 1, "episode": 1, "episode_title": "Pilot"}
    assert tasks[body["picked"][1]["url"]]["metadata"]["episode_title"] == "Second"
    # A grab's own quality change: 720p first now, and only episode 1.
    again = as_["user"]("POST", "/search/smart-grab", {"tmdb_id": 1396, "episodes": [1], "batch_name": "SD",
                                                       "quality": {"resolutions": ["720p"]}, "path": "TV"}).data
    assert [p["title"] for p in again["picked"]] == ["Show.S01E01.720p.HDTV.x264-AAA"]
    assert again["picked"][0]["url"].endswith("?apikey=***")  # shown without the key; the download has it
    assert again["missing_episodes"] == [] and again["batch_name"] == "SD"
    assert as_["user"]("GET", f"/downloads/{again['picked'][0]['task_id']}").data["path"] == "TV"
    # A film, asked for the way Flasharr does (type, year and id as text).
    film = as_["user"]("POST", "/search/smart-grab", {"tmdb_id": "603", "type": "movie", "year": "1999"})
    assert film.status_code == 201, film.data
    assert film.data["batch_name"] == "Film (1999)" and film.data["tasks_created"] == 1
    assert [p["quality"] for p in film.data["picked"]] == ["1080p"] and film.data["missing_episodes"] == []
    none = as_["user"]("POST", "/search/smart-grab", {"tmdb_id": 1396, "season": 2, "sources": ["feeds"]})
    assert none.status_code == 404 and none.data["error"]["details"][0]["message"] == "missing: 1"


def test_a_failing_or_slow_indexer_is_reported_not_fatal_and_tmdb_unconfigured_is_503(
        as_, configured, feed, svc, monkeypatch) -> None:
    configured.fail["/torznab"] = (500, {})
    body = as_["user"]("POST", "/search/smart", {"tmdb_id": 1396}).data
    sources = {s["name"]: s for s in body["sources"]}
    assert "HTTP 500" in sources["fake"]["error"] and sources["your feeds"]["found"] == 2
    assert body["missing_episodes"] == [1, 3]  # only the feed's episode 2 is left
    # An indexer slower than the sources' budget is reported; the answer comes from the others.
    configured.fail.clear()
    configured.delay["/torznab"] = 3.0
    monkeypatch.setattr(svc.search, "budget_seconds", 0.5)
    slow = {s["name"]: s for s in as_["user"]("POST", "/search/smart", {"tmdb_id": 1396, "season": 1}).data["sources"]}
    assert slow["fake"]["error"] == "did not answer within 0.5 s" and slow["your feeds"]["found"] == 2
    as_["admin"]("PATCH", "/settings/providers", {"tmdb": {"api_key": ""}})
    off = as_["user"]("POST", "/search/smart", {"tmdb_id": 1396})
    assert off.status_code == 503 and off.data["error"]["details"][0]["field"] == "tmdb.api_key"
