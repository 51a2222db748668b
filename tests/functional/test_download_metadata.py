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
from tests.support.auth import new_user
from tests.support.engine import wipe_tasks
from tests.support.origin import Origin, Resource

MiB = 1024 * 1024
SHOW = {"tmdb_id": 1396, "title": "Breaking Bad", "year": 2008, "season": 1, "episode": 1, "kind": "tv"}


@pytest.fixture(scope="module")
def headers(emulator: str) -> dict[str, str]:
    return new_user("user")[1]


@pytest.fixture()
def api(svc, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:  # type: ignore[no-untyped-def]
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


def test_completed_object_carries_metadata_and_keys_never_collide(api: Api, svc, workers, origin: Origin) -> None:  # type: ignore[no-untyped-def]
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


def test_rename_before_and_after_completion(api: Api, svc, workers, origin: Origin) -> None:  # type: ignore[no-untyped-def]
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

    moved = api.patch(f"/downloads/{task['id']}", {"naming": "{title}/{title} {season}x{episode:02}.{ext}"})
    assert moved.status_code == 200, moved.body
    new = "Shows/Breaking Bad/Breaking Bad 1x05.mkv"
    assert moved.json_body["key"] == new
    assert svc.store.size(new) == 1000 and svc.store.size(old) is None
    assert objects(svc, new)[new]["haul-episode"] == "5"
    log = api.get(f"/activity?task_id={task['id']}").json_body
    entries = [e for e in log["entries"] if e["kind"] == "task.rename"]
    assert entries and "server-side copy" in entries[0]["message"] and old in entries[0]["message"]
    # Served from the new key.
    assert api.get(f"/downloads/{task['id']}/link").json_body["url"]
