"""Batches and statistics over HTTP against the local runtime: a batch with a bad item, its
downloads completing, and the counters (kept asynchronously from the tasks table's stream)
catching up in the engine stats, overview, timeline and breakdowns."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import requests

from tests.support.auth import PASSWORD, session
from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess
from tests.support.wait import wait_for


def new_user(runtime: RuntimeProcess) -> tuple[str, requests.Session]:
    name = f"stats-{uuid.uuid4().hex[:8]}"
    made = runtime.http.post(f"{runtime.api}/users", json={"username": name, "password": PASSWORD, "role": "user"},
                             timeout=10)
    assert made.status_code == 201, made.text
    return made.json()["id"], session(runtime.api, name, PASSWORD)


def get(http: requests.Session, url: str, **params: Any) -> Any:
    answer = http.get(url, params=params, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_batch_completes_and_every_statistic_reflects_it(runtime: RuntimeProcess, origin: Origin) -> None:
    api = runtime.api
    user_id, http = new_user(runtime)
    sizes = [10_000, 300_000, 2 * 1024 * 1024 + 1]
    urls = []
    for size in sizes:
        path = f"/e2e-{uuid.uuid4().hex[:6]}.bin"
        origin.add(path, Resource(data=os.urandom(size)))
        urls.append(origin.url(path))

    created = http.post(f"{api}/batches", json={
        "name": "e2e batch",
        "items": [{"url": urls[0]}, {"url": "not a url"}, {"url": urls[1], "tags": ["own"]}, {"url": urls[2]}],
        "defaults": {"category": "e2e", "tags": ["stats"], "priority": "HIGH"},
    }, timeout=30)
    assert created.status_code == 201, created.text
    body = created.json()
    batch_id = body["batch"]["id"]
    assert created.headers["Location"].endswith(f"/batches/{batch_id}")
    assert [r["ok"] for r in body["results"]] == [True, False, True, True]
    assert body["results"][1]["error"]["details"][0]["field"] == "url"
    assert len(body["tasks"]) == 3 and all(t["batch_id"] == batch_id for t in body["tasks"])

    def batch_done() -> dict[str, Any] | None:
        detail = get(http, f"{api}/batches/{batch_id}")
        return detail if detail["batch"]["completed"] == 3 else None

    detail = wait_for(batch_done, 45, interval=0.3, what="the batch summary to show 3/3 completed")
    summary = detail["batch"]
    assert summary["state"] == "completed" and summary["progress"] == 100.0 and summary["name"] == "e2e batch"
    assert summary["total_bytes"] == summary["downloaded_bytes"] == sum(sizes)
    assert {t["state"] for t in detail["tasks"]} == {"completed"}

    listed = http.get(f"{api}/batches", params={"per_page": 1}, timeout=10)
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert 'rel="first"' in listed.headers["Link"] and listed.json()["batches"][0]["id"] == batch_id

    def engine_caught_up() -> dict[str, Any] | None:
        e = get(http, f"{api}/stats/engine")
        return e if e["completed"] == 3 else None

    engine = wait_for(engine_caught_up, 20, interval=0.3, what="the engine stats to count 3 completed")
    assert engine["scope"] == f"u#{user_id}" and engine["total"] == 3 and engine["active"] == 0
    assert engine["by_state"]["completed"] == 3 and engine["total_speed"] == 0

    def overview_caught_up() -> dict[str, Any] | None:
        o = get(http, f"{api}/stats/overview")
        return o if o["bytes_stored"] == sum(sizes) else None

    overview = wait_for(overview_caught_up, 20, interval=0.3, what="the overview to count the bytes")
    assert overview["downloads"]["today"] == overview["downloads"]["total"] == 3
    assert overview["completed"]["this_week"] == 3 and overview["success_rate"] == 1.0

    hours = get(http, f"{api}/stats/timeline", group="hour")
    assert hours["group"] == "hour" and len(hours["buckets"]) == 24
    assert sum(b["added"] for b in hours["buckets"]) == 3 and sum(b["bytes"] for b in hours["buckets"]) == sum(sizes)
    now_ms = int(time.time() * 1000)
    days = get(http, f"{api}/stats/timeline", group="day", since=str(now_ms - 6 * 86_400_000), until=str(now_ms))
    assert len(days["buckets"]) == 7 and days["buckets"][-1]["completed"] == 3

    batches = get(http, f"{api}/stats/breakdown", by="batch")["items"]
    assert [(b["key"], b["name"], b["added"], b["completed"], b["bytes"]) for b in batches] == [
        (batch_id, "e2e batch", 3, 3, sum(sizes))]
    tags = {t["key"]: t["added"] for t in get(http, f"{api}/stats/breakdown", by="tag")["items"]}
    assert tags == {"stats": 2, "own": 1}
    assert get(http, f"{api}/stats/breakdown", by="category")["items"][0]["key"] == "e2e"
    assert get(http, f"{api}/stats/breakdown", by="host", limit=1)["items"][0]["key"] == "127.0.0.1"

    admin = get(runtime.http, f"{api}/stats/engine")
    assert admin["scope"] == "all" and admin["completed"] >= 3
    mine = get(runtime.http, f"{api}/stats/overview", owner=user_id)
    assert mine["scope"] == f"u#{user_id}" and mine["downloads"]["total"] == 3

    for path, params, status in [
        ("/stats/timeline", {"group": "hour", "since": str(now_ms - 40 * 86_400_000)}, 422),
        ("/stats/timeline", {"since": "yesterday"}, 422),
        ("/stats/breakdown", {"by": "colour"}, 422),
        ("/stats/engine", {"owner": "someone-else"}, 403),
    ]:
        answer = http.get(f"{api}{path}", params=params, timeout=10)
        assert answer.status_code == status, (path, params, answer.text)

    # Deleting the batch empties the gauges; the history (downloads added) stays.
    deleted = http.delete(f"{api}/batches/{batch_id}", timeout=30)
    assert deleted.status_code == 200 and deleted.json()["affected"] == 3
    assert http.get(f"{api}/batches/{batch_id}", timeout=10).status_code == 404
    wait_for(lambda: get(http, f"{api}/stats/engine")["total"] == 0, 20, interval=0.3,
             what="the engine stats to forget the deleted downloads")
    assert get(http, f"{api}/stats/overview")["downloads"]["total"] == 3


def test_a_batch_where_nothing_can_be_added_is_a_422(runtime: RuntimeProcess) -> None:
    _, http = new_user(runtime)
    answer = http.post(f"{runtime.api}/batches", json={"items": [{"url": "ftp://x"}, {"nope": 1}]}, timeout=10)
    assert answer.status_code == 422, answer.text
    fields = {d["field"] for d in answer.json()["error"]["details"]}
    assert {"items.0.url", "items.1.nope", "items.1.url"} <= fields
    assert http.get(f"{runtime.api}/batches", timeout=10).json()["total"] == 0
