"""Per-download metadata and naming over the REST API (issue #18): the metadata object on
POST /downloads, POST /batches items and PATCH, 422s naming the field, keys from templates,
unique keys, the stored S3 object's metadata, and renames before and after completion."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.functional.test_api import Api, fields_of

# The WebSocket fixtures and helpers of the realtime tests (a local gateway and stream poller).
from tests.functional.test_realtime import created, gateway, poller, recv_until, send  # noqa: F401
from tests.support.auth import new_user
from tests.support.engine import wipe_tasks
from tests.support.origin import Origin, Resource
from tests.support.wait import wait_for

MiB = 1024 * 1024
SHOW = {"tmdb_id": 1396, "title": "Breaking Bad", "year": 2008, "season": 1, "episode": 1, "kind": "tv"}


@pytest.fixture(scope="module")
def headers(emulator: str) -> dict[str, str]:
    return new_user("user")[1]


@pytest.fixture()
def api(svc, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    svc.keys.settings._cached = None  # the svc fixture emptied the control table
    wipe_tasks()
    yield Api(Client(app), headers, Api(Client(app), new_user("admin")[1]))
    wipe_tasks()


def objects(svc: Any, prefix: str) -> dict[str, dict[str, str]]:
    s3, bucket = svc.clients.s3, svc.config.bucket
    found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: s3.head_object(Bucket=bucket, Key=o["Key"])["Metadata"] for o in found}


def test_metadata_is_validated_stored_and_shown(api: Api) -> None:
    task = api.add("https://files.example.com/x/bb.s01e01.mkv", metadata=SHOW, category="tv")
    assert task["metadata"] == SHOW
    assert task["key"] == "Breaking Bad (2008)/Season 01/Breaking Bad - S01E01.mkv"
    shown = api.view(task["id"])
    assert shown["metadata"] == SHOW and shown["guessed"] is None

    bad = api.post("/downloads", {"url": "https://files.example.com/y.mkv", "metadata": {**SHOW, "season": "one"}})
    assert fields_of(bad) == {"metadata.season": "Input should be a valid integer"}
    bad = api.post("/downloads", {"url": "https://files.example.com/y.mp3", "metadata": {
        "artist_names": ["A"], "track_name": "T", "release_date": {"year": 2001, "month": None, "day": 4}}})
    assert fields_of(bad) == {"metadata.release_date": "day must be null when month is null"}
    bad = api.patch(f"/downloads/{task['id']}", {"metadata": {"artist_names": [], "track_name": "T"}})
    assert "metadata.artist_names" in fields_of(bad)
    assert api.view(task["id"])["metadata"] == SHOW  # nothing lost

    batch = api.post("/batches", {"items": [
        {"url": "https://files.example.com/b1.mkv", "metadata": {**SHOW, "episode": 2}},
        {"url": "https://files.example.com/b2.mkv", "metadata": {**SHOW, "imdb_id": "bb"}},
    ]})
    assert batch.status_code == 201, batch.body
    ok, refused = batch.json_body["results"]
    assert ok["ok"] and refused["error"]["details"] == [
        {"field": "metadata.imdb_id", "message": "must be tt followed by 7 to 10 digits (e.g. tt0903747)"}]
    made = api.view(ok["task_id"])
    assert made["metadata"]["episode"] == 2 and made["key"].endswith("Breaking Bad - S01E02.mkv")
    only_bad = api.post("/batches", {"items": [{"url": "https://files.example.com/b3.mkv", "metadata": {"kind": 1}}]})
    assert only_bad.status_code == 422
    assert only_bad.json_body["error"]["details"] == [
        {"field": "items.0.metadata.kind", "message": "Input should be 'movie' or 'tv'"}]


def test_guessed_from_the_file_name_is_offered_not_applied(api: Api) -> None:
    task = api.add("https://files.example.com/Breaking.Bad.S02E03.720p.BluRay.x264-DEMAND.mkv")
    shown = api.view(task["id"])
    assert shown["metadata"] is None
    assert shown["guessed"] == {"title": "Breaking Bad", "season": 2, "episode": 3, "kind": "tv",
                                "resolution": "720p", "group": "DEMAND"}
    assert shown["key"] == f"downloads/{task['id']}/Breaking.Bad.S02E03.720p.BluRay.x264-DEMAND.mkv"
    listed = api.get("/downloads").json_body["tasks"]
    assert "guessed" not in listed[0] or listed[0]["guessed"] is None


def test_completed_object_carries_metadata_and_keys_never_collide(api: Api, svc, workers, origin: Origin) -> None:
    api.admin.patch("/settings", {"part_size": 5 * MiB})
    big, small = os.urandom(6 * MiB + 7), b"episode one"
    origin.add("/big.mkv", Resource(data=big))
    origin.add("/small.mkv", Resource(data=small))
    meta = {**SHOW, "title": "Café Show", "labels": {"source": "web"}}
    first = api.add(origin.url("/big.mkv"), metadata=meta, path="TV")
    first = api.wait_state(first["id"], "completed", "failed")
    assert first["state"] == "completed", first["error"]
    key = "TV/Café Show (2008)/Season 01/Café Show - S01E01.mkv"
    assert first["key"] == key
    stored = objects(svc, "TV/Café Show")
    assert stored[key]["haul-title"] == "Caf%C3%A9 Show"
    assert stored[key]["haul-tmdb-id"] == "1396" and stored[key]["haul-season"] == "1"
    assert stored[key]["haul-label-source"] == "web" and stored[key]["haul-task-id"] == first["id"]

    # The same episode again: a key of its own, the first object untouched.
    second = api.wait_state(api.add(origin.url("/small.mkv"), metadata=meta, path="TV")["id"], "completed", "failed")
    assert second["key"] == "TV/Café Show (2008)/Season 01/Café Show - S01E01 (2).mkv"
    assert svc.store.size(key) == len(big)
    # Unless the user asks to replace.
    third = api.add(origin.url("/small.mkv"), metadata=meta, path="TV", replace=True)
    third = api.wait_state(third["id"], "completed", "failed")
    assert third["key"] == key and svc.store.size(key) == len(small)


def test_rename_before_and_after_completion(api: Api, svc, workers, origin: Origin) -> None:
    origin.add("/ep.mkv", Resource(data=b"x" * 1000))
    api.admin.post("/queue/stop")
    try:
        task = api.add(origin.url("/ep.mkv"), metadata=SHOW)
        renamed = api.patch(f"/downloads/{task['id']}", {"metadata": {**SHOW, "episode": 5}, "path": "Shows"})
        assert renamed.status_code == 200, renamed.body
        assert renamed.json_body["key"] == "Shows/Breaking Bad (2008)/Season 01/Breaking Bad - S01E05.mkv"
    finally:
        api.admin.post("/queue/start")
    done = api.wait_state(task["id"], "completed", "failed")
    assert done["key"] == "Shows/Breaking Bad (2008)/Season 01/Breaking Bad - S01E05.mkv"
    old = done["key"]

    # An episode NFO beside it (chalicelib/sidecars) moves with it.
    nfo = old.removesuffix(".mkv") + ".nfo"
    svc.clients.s3.put_object(
        Bucket=svc.config.bucket, Key=nfo, Body=b"<episodedetails/>", Metadata={"haul-owner": "x"}
    )
    moved = api.patch(f"/downloads/{task['id']}", {"naming": "{title}/{title} {season}x{episode:02}.{ext}"})
    assert moved.status_code == 200, moved.body
    new = "Shows/Breaking Bad/Breaking Bad 1x05.mkv"
    assert moved.json_body["key"] == new
    assert svc.store.size(new) == 1000 and svc.store.size(old) is None
    assert objects(svc, new)[new]["haul-episode"] == "5"
    assert svc.store.size(nfo) is None
    assert objects(svc, "Shows/Breaking Bad/Breaking Bad 1x05.nfo") == {
        "Shows/Breaking Bad/Breaking Bad 1x05.nfo": {"haul-owner": "x"}
    }
    log = api.get(f"/activity?task_id={task['id']}").json_body
    entries = [e for e in log["entries"] if e["kind"] == "task.rename"]
    assert entries and "server-side copy" in entries[0]["message"] and old in entries[0]["message"]
    # Served from the new key.
    assert api.get(f"/downloads/{task['id']}/link").json_body["url"]


def test_lists_filter_by_metadata_on_an_index(api: Api, svc) -> None:
    from chalicelib.domain.task import Task

    me = api.get("/auth/me").json_body["id"]
    made: dict[str, list[str]] = {"show": [], "other": [], "song": []}

    def make(kind: str, n: int, metadata: dict[str, Any] | None) -> None:
        task_id = f"{kind}-{n:03d}-{os.urandom(3).hex()}"
        at = 1_700_000_000_000 + len(sum(made.values(), [])) * 1000
        svc.repo.create(
            Task(
                id=task_id,
                owner=me,
                url=f"https://f.example.com/{task_id}.mkv",
                filename=f"{task_id}.mkv",
                key=f"downloads/{task_id}/x",
                created_at=at,
                updated_at=at,
                order=at,
                metadata=metadata,
            )
        )
        made[kind].append(task_id)

    for n in range(24):
        make("show", n, {**SHOW, "season": 1 + n // 12, "episode": 1 + n % 12})
        make("other", n, {"tmdb_id": 42, "title": "Other Show", "season": 1, "episode": n + 1} if n % 2 else None)
    for n in range(3):
        make("song", n, {"artist_names": ["Daft Punk", "Romanthony"], "track_name": f"T{n}"})

    page = api.get("/downloads?tmdb_id=1396&per_page=10")
    assert page.status_code == 200
    ids = [t["id"] for t in page.json_body["tasks"]]
    assert ids == made["show"][::-1][:10]
    assert page.headers["X-Total-Count"] == "24"
    assert int(page.headers["X-Items-Read"]) <= 11  # O(page): the index holds this show's downloads only
    nxt = page.json_body["next_cursor"]
    second = api.get(f"/downloads?tmdb_id=1396&per_page=10&cursor={nxt}")
    assert [t["id"] for t in second.json_body["tasks"]] == made["show"][::-1][10:20]
    assert int(second.headers["X-Items-Read"]) <= 11

    by_title = api.get("/downloads?title=breaking%20BAD&per_page=5")
    assert [t["id"] for t in by_title.json_body["tasks"]] == made["show"][::-1][:5]
    assert int(by_title.headers["X-Items-Read"]) <= 6
    season2 = api.get("/downloads?tmdb_id=1396&season=2&episode=3").json_body["tasks"]
    assert [t["metadata"]["episode"] for t in season2] == [3] and season2[0]["metadata"]["season"] == 2
    assert api.get("/downloads?tmdb_id=42").json_body["total"] == 12
    assert {t["id"] for t in api.get("/downloads?artist=daft%20punk").json_body["tasks"]} == set(made["song"])
    assert api.get("/downloads?artist=Romanthony").json_body["total"] == 0  # the index holds the first artist
    assert api.get("/downloads?q=other%20show").json_body["total"] == 12  # names join the text search

    refused = api.get("/downloads?season=1")
    assert refused.status_code == 422 and "tmdb_id, title or artist" in refused.json_body["error"]["message"]
    assert api.get("/downloads?tmdb_id=1&title=x").status_code == 422
    # An admin's every-owner list applies the same filters.
    everyone = api.admin.get("/downloads?tmdb_id=1396&season=1&per_page=50").json_body
    assert {t["id"] for t in everyone["tasks"]} == set(made["show"][:12])
    # ...on the every-owner twins of the indexes: O(page) too.
    admin_page = api.admin.get("/downloads?title=Breaking%20Bad&per_page=10")
    assert [t["id"] for t in admin_page.json_body["tasks"]] == made["show"][::-1][:10]
    assert int(admin_page.headers["X-Items-Read"]) <= 11


def test_naming_settings_categories_and_preview(api: Api, svc) -> None:
    assert api.get("/settings/naming").json_body["templates"]["tv"].startswith("{title} ({year})/Season {season:02}")
    assert api.call("PUT", "/settings/naming", {"categories": {}}).status_code == 403
    bad = api.admin.call("PUT", "/settings/naming", {"templates": {"tv": "{title.__globals__}.{ext}"}})
    assert fields_of(bad)["templates.tv"].startswith("{title.__globals__} is not a field; use title, year")
    bad = api.admin.call("PUT", "/settings/naming", {"categories": {"tv": {"path": "../up"}}})
    assert fields_of(bad) == {"categories.tv.path": "must not contain a '..' folder"}
    saved = api.admin.call(
        "PUT",
        "/settings/naming",
        {
            "templates": {"movie": "{title} [{year}]/{title}.{ext}"},
            "categories": {
                "tv": {"path": "TV Shows"},
                "anime": {"path": "Anime", "template": "{title}/{episode:03}.{ext}"},
            },
        },
    )
    assert saved.status_code == 200, saved.body
    assert saved.json_body["categories"]["tv"] == {"path": "TV Shows", "template": None}
    assert saved.json_body["updated_by"]

    preview = api.post("/settings/naming/preview", {"filename": "x.mkv", "metadata": SHOW, "category": "tv"})
    assert preview.json_body == {
        "key": "TV Shows/Breaking Bad (2008)/Season 01/Breaking Bad - S01E01.mkv",
        "template": "{title} ({year})/Season {season:02}/{title} - S{season:02}E{episode:02}.{ext}",
        "path": "TV Shows",
    }
    anime = api.post("/settings/naming/preview", {"filename": "x.mkv", "metadata": SHOW, "category": "anime"})
    assert anime.json_body["key"] == "Anime/Breaking Bad/001.mkv"
    movie = api.post("/settings/naming/preview", {"filename": "b.mp4", "metadata": {"title": "Heat", "year": 1995}})
    assert movie.json_body["key"] == "Heat [1995]/Heat.mp4"
    hostile = api.post("/settings/naming/preview", {"filename": "../../x.mkv", "template": "{name}/{filename}",
                                                    "metadata": {"title": "a/../../b"}})
    assert hostile.json_body["key"] == "x/x.mkv"
    assert fields_of(api.post("/settings/naming/preview", {"template": "{x}"}))["template"]

    # A download of that category lands in its folder.
    task = api.add("https://files.example.com/e.mkv", metadata=SHOW, category="anime")
    assert task["key"] == "Anime/Breaking Bad/001.mkv"


def test_rename_during_the_transfer_moves_the_object_once_stored(api: Api, svc, workers, origin: Origin) -> None:
    api.admin.patch("/settings", {"part_size": 5 * MiB})
    data = os.urandom(6 * MiB)
    origin.add("/slow.mkv", Resource(data=data, throttle_bps=4 * MiB))
    task = api.add(origin.url("/slow.mkv"), metadata=SHOW)
    first = "Breaking Bad (2008)/Season 01/Breaking Bad - S01E01.mkv"
    wait_for(lambda: api.view(task["id"])["phase"] == "transferring", 30, what="the transfer under way")
    renamed = api.patch(f"/downloads/{task['id']}", {"metadata": {**SHOW, "episode": 9}})
    assert renamed.status_code == 200, renamed.body
    second = "Breaking Bad (2008)/Season 01/Breaking Bad - S01E09.mkv"
    assert (renamed.json_body["key"], renamed.json_body["target"]) == (first, second)
    done = api.wait_state(task["id"], "completed", "failed")
    assert done["state"] == "completed", done["error"]
    assert (done["key"], done["target"]) == (second, None)  # moved before it was marked completed
    assert svc.store.size(second) == len(data) and svc.store.size(first) is None
    assert objects(svc, second)[second]["haul-episode"] == "9"
    log = api.get(f"/activity?task_id={task['id']}").json_body["entries"]
    assert any(e["kind"] == "task.rename" and "once stored" in e["message"] for e in log)


def test_metadata_reaches_a_websocket_client(svc, gateway, poller, created: list[str]) -> None:  # noqa: F811 - fixtures
    from dataclasses import replace

    from websockets.sync.client import connect

    from chalicelib.domain.states import TaskState
    from chalicelib.domain.task import Task
    from chalicelib.transfer.ports import TaskEdit

    with connect(gateway.url) as ws:
        send(ws, action="subscribe", rooms=["downloads"])
        recv_until(ws, lambda msg: bool(msg.get("complete")))
        task = Task(id=f"ws-{os.urandom(4).hex()}", owner="local", url="https://example.com/bb.mkv", filename="bb.mkv",
                    key="k/bb.mkv", state=TaskState.COMPLETED, created_at=1, updated_at=1, metadata=SHOW)
        svc.repo.create(task)
        created.append(task.id)
        added = recv_until(ws, lambda msg: msg["type"] == "TASK_ADDED" and msg["task"]["id"] == task.id)[-1]
        assert added["task"]["metadata"] == SHOW
        svc.repo.edit(task, TaskEdit("someone", renamed=replace(task, metadata={**SHOW, "episode": 3})))
        updated = recv_until(ws, lambda msg: msg["type"] == "TASK_UPDATED" and msg["task"]["id"] == task.id)[-1]
        assert "metadata" in updated["changed"] and updated["task"]["metadata"]["episode"] == 3
