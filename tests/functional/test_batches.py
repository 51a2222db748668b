"""Batches at the service level: real downloads from a loopback origin through the in-process
workers, batch summaries kept by the statistics stream handler."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.api.errors import Forbidden, NotFound, ValidationFailed
from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.downloads.batches import BatchListQuery, BatchService, BatchTasksQuery
from local_runtime.stream_poller import StreamPoller
from tests.support.engine import wait_finished, wait_until
from tests.support.origin import Origin, Resource
from tests.support.stats import aggregate_poller
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("settled")


@pytest.fixture()
def who() -> Identity:
    name = f"batcher-{uuid.uuid4().hex[:8]}"
    return Identity(user_id=name, username=name, role=Role.USER)


@pytest.fixture()
def batches(svc) -> BatchService:
    return svc.batches


@pytest.fixture()
def stream(svc) -> Iterator[StreamPoller]:
    with aggregate_poller() as p:
        yield p


def files(origin: Origin, sizes: list[int], **faults: Any) -> list[str]:
    urls = []
    for size in sizes:
        path = f"/b-{uuid.uuid4().hex[:8]}.bin"
        origin.add(path, Resource(data=os.urandom(size), **faults))
        urls.append(origin.url(path))
    return urls


def summary_when(batches: BatchService, who: Identity, batch_id: str, test: Any, what: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        s = batches.summary(who, batch_id)
        return s if test(s) else None

    return wait_for(probe, 30, what=what)


def test_a_batch_of_three_completes_with_one_bad_item_reported(svc, workers, origin, stream, batches, who) -> None:
    sizes = [1000, 200_000, 3 * 1024 * 1024 + 5]
    urls = files(origin, sizes)
    answer = batches.create(who, {
        "name": "three",
        "items": [{"url": urls[0], "tags": ["t1"]}, {"url": "ftp://nope"}, {"url": urls[1]},
                  {"url": urls[2], "filename": "third.bin", "priority": "HIGH"}, "not an object"],
        "defaults": {"category": "testing", "tags": ["d"]},
    })
    results = answer["results"]
    assert [r["ok"] for r in results] == [True, False, True, True, False]
    assert results[1]["error"]["code"] == "VALIDATION_ERROR"
    assert results[1]["error"]["details"][0]["field"] == "url"
    assert answer["batch"]["items"] == 3 and answer["batch"]["state"] in ("queued", "downloading", "completed")
    assert [t["category"] for t in answer["tasks"]] == ["testing"] * 3
    assert answer["tasks"][0]["tags"] == ["t1"] and answer["tasks"][1]["tags"] == ["d"]
    assert answer["tasks"][2]["priority"] == "HIGH" and answer["tasks"][2]["filename"] == "third.bin"
    batch_id = answer["batch"]["id"]
    for task in answer["tasks"]:
        assert wait_finished(svc, task["id"]).state == TaskState.COMPLETED
    done = summary_when(batches, who, batch_id, lambda s: s["completed"] == 3, "the batch to show 3/3")
    assert done["state"] == "completed" and done["items"] == 3 and done["progress"] == 100.0
    assert done["total_bytes"] == sum(sizes) and done["downloaded_bytes"] == sum(sizes)
    detail = batches.detail(who, batch_id, BatchTasksQuery(per_page=2))
    assert len(detail["tasks"]) == 2 and detail["next_cursor"]
    rest = batches.detail(who, batch_id, BatchTasksQuery(per_page=2, cursor=detail["next_cursor"]))
    assert len(rest["tasks"]) == 1
    assert {t["id"] for t in detail["tasks"] + rest["tasks"]} == {t["id"] for t in answer["tasks"]}
    # Adding the same URL again (in a new batch) answers with the existing download.
    again = batches.create(who, {"items": [{"url": urls[0]}, {"url": urls[0], "allow_duplicate": True}]})
    assert [r["duplicate"] for r in again["results"]] == [True, False]
    assert again["results"][0]["task_id"] == answer["tasks"][0]["id"]


def test_nothing_added_is_a_422_and_leaves_no_batch(svc, batches, who) -> None:
    before = batches.page(who, BatchListQuery())[1]
    with pytest.raises(ValidationFailed) as err:
        batches.create(who, {"items": [{"url": "nope"}, {"url": "https://x.example/a", "priority": 1000}]})
    fields = [d["field"] for d in err.value.details]
    assert fields == ["items.0.url", "items.1.priority"]
    assert batches.page(who, BatchListQuery())[1] == before
    with pytest.raises(ValidationFailed):
        batches.create(who, {"items": []})
    with pytest.raises(ValidationFailed):
        batches.create(who, {"items": [{"url": "https://x.example/a"}], "defaults": {"url": "https://y"}})
    viewer = Identity(user_id=who.user_id, username=who.username, role=Role.VIEWER)
    with pytest.raises(Forbidden):
        batches.create(viewer, {"items": [{"url": "https://x.example/a"}]})


def test_pause_resume_retry_failed_and_delete_a_batch(svc, workers, origin, stream, batches, who) -> None:
    svc.settings.update({"retry_max_attempts": 1, "retry_base_seconds": 0.1, "retry_cap_seconds": 0.1})
    good = files(origin, [5000])
    bad = files(origin, [7000], fail_status=404, failures=1)
    slow = files(origin, [4 * 1024 * 1024], throttle_bps=256 * 1024)
    answer = batches.create(who, {"name": "mixed", "items": [{"url": u} for u in good + bad + slow]})
    batch_id = answer["batch"]["id"]
    ids = [t["id"] for t in answer["tasks"]]
    assert wait_finished(svc, ids[0]).state == TaskState.COMPLETED
    assert wait_finished(svc, ids[1]).state == TaskState.FAILED

    paused = batches.act(who, batch_id, "pause")
    assert paused["action"] == "pause" and paused["affected"] == 1 and paused["skipped"] == 2
    assert {r["task_id"]: r["outcome"] for r in paused["results"]}[ids[2]] == "done"
    summary_when(batches, who, batch_id, lambda s: s["state"] == "paused" and s["failed"] == 1,
                 "the batch to be paused with one failure")

    retried = batches.act(who, batch_id, "retry-failed")
    assert retried["affected"] == 1 and retried["skipped"] == 2
    assert wait_finished(svc, ids[1]).state == TaskState.COMPLETED  # the origin answers now

    resumed = batches.act(who, batch_id, "resume")
    assert resumed["affected"] == 1
    wait_until(svc, ids[2], lambda t: t.state != TaskState.PAUSED, what="the resumed download to move")

    other = Identity(user_id="someone-else", username="someone-else", role=Role.USER)
    with pytest.raises(NotFound):
        batches.act(other, batch_id, "pause")

    deleted = batches.act(who, batch_id, "delete", delete_files=True)
    assert deleted["affected"] == 3 and deleted["skipped"] == 0
    assert all(svc.repo.get(i) is None for i in ids)
    with pytest.raises(NotFound):
        batches.summary(who, batch_id)
    # The stream's REMOVEs of its tasks do not bring the batch back.
    wait_for(lambda: stream.records >= 1, 10, what="the stream to be read")
    db = svc.stats.counters.db
    assert db.get_item(TableName=svc.config.batches_table, Key={"id": {"S": batch_id}}).get("Item") is None


def test_list_is_newest_first_and_paginated(svc, batches, who) -> None:
    made = []
    for i in range(3):
        made.append(batches.create(who, {"name": f"n{i}", "items": [{"url": f"https://x.example/{i}"}]})["batch"]["id"])
    page, total, cursor = batches.page(who, BatchListQuery(per_page=2))
    assert total == 3 and [b["id"] for b in page] == made[::-1][:2] and cursor
    second, _, last = batches.page(who, BatchListQuery(per_page=2, cursor=cursor))
    assert [b["id"] for b in second] == [made[0]] and last is None
    assert [b["id"] for b in batches.page(who, BatchListQuery(per_page=2, page=2))[0]] == [made[0]]
    with pytest.raises(Forbidden):
        batches.page(who, BatchListQuery(owner="someone-else"))
    with pytest.raises(ValidationFailed):
        batches.page(who, BatchListQuery(cursor="bogus"))
    admin = Identity(user_id="root", username="root", role=Role.ADMIN)
    assert batches.page(admin, BatchListQuery(owner=who.user_id))[1] == 3
    for batch_id in made:
        batches.act(who, batch_id, "delete")
