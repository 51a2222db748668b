"""Bulk actions, retry-all-failed, clearing finished history, duplicates, move and reorder, and the
queue control routes, through the real Chalice app against the emulator (no workers: a started
download just waits in "downloading")."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.domain.states import TaskState
from chalicelib.persistence.models import ActivityModel, TaskModel
from chalicelib.persistence.repository import now_ms
from tests.functional.test_api import DEAD, Api, error_of, fields_of
from tests.support.auth import new_user
from tests.support.engine import wipe_tasks

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(autouse=True)
def clean(svc) -> Iterator[None]:
    wipe_tasks()
    yield
    wipe_tasks()


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, tuple[str, dict[str, str]]]:
    out = {}
    for role in ("admin", "user", "other"):
        user_id, headers, _ = new_user("user" if role == "other" else role)
        out[role] = (user_id, headers)
    return out


@pytest.fixture()
def client(svc, monkeypatch: pytest.MonkeyPatch) -> Client:
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    return Client(app)


@pytest.fixture()
def api(client: Client, people) -> Api:
    return Api(client, people["user"][1], Api(client, people["admin"][1]))


@pytest.fixture()
def other(client: Client, people) -> Api:
    """Another user."""
    return Api(client, people["other"][1])


def add(api: Api, n: int = 1, **fields: Any) -> list[str]:
    return [api.add(f"{DEAD}?n={i}-{now_ms()}", **fields)["id"] for i in range(n)]


def force(svc: Any, task_id: str, state: TaskState, **attrs: Any) -> None:
    """Put a task in ``state`` as the engine would have (no workers run here)."""
    task = svc.repo.get(task_id)
    actions = [getattr(TaskModel, k).set(v) for k, v in attrs.items()]
    assert svc.repo.transition(task, [task.state], state, actions) is not None


def activity(owner_id: str, kind: str) -> list[ActivityModel]:
    return [e for e in ActivityModel.query(f"u#{owner_id}", scan_index_forward=False, limit=200) if e.kind == kind]


# -- bulk actions ----------------------------------------------------------------------------


def test_bulk_actions_report_per_item(api: Api, other: Api, svc, people) -> None:
    api.settings(max_concurrent_downloads=1)
    running, q1, q2 = add(api, 3)
    foreign = add(other)[0]
    assert api.view(running)["state"] == "downloading" and api.view(q1)["state"] == "queued"

    resp = api.post("/downloads/bulk", {"action": "pause", "ids": [q1, q2, running, MISSING, foreign]})
    assert resp.status_code == 200, resp.body
    body = resp.json_body
    assert (body["action"], body["requested"], body["succeeded"], body["failed"]) == ("pause", 5, 3, 2)
    results = {r["id"]: r for r in body["results"]}
    assert [r["id"] for r in body["results"]] == [q1, q2, running, MISSING, foreign]  # in the order asked
    assert all(results[i] == {"id": i, "ok": True, "state": "paused", "error": None} for i in (q1, q2, running))
    for i in (MISSING, foreign):
        assert results[i]["ok"] is False and results[i]["error"]["code"] == "NOT_FOUND"
    assert api.admin.view(foreign)["state"] in ("downloading", "queued")  # untouched

    again = api.post("/downloads/bulk", {"action": "pause", "ids": [q1]}).json_body
    assert again["failed"] == 1 and again["results"][0]["error"]["code"] == "CONFLICT"
    assert "cannot pause a task that is paused" in again["results"][0]["error"]["message"]

    resumed = api.post("/downloads/bulk", {"action": "resume", "ids": [q1, q2, running]}).json_body
    assert resumed["succeeded"] == 3
    # Back in the queue (the other user's download took the one slot meanwhile).
    assert {api.view(i)["state"] for i in (q1, q2, running)} <= {"downloading", "queued"}

    cancelled = api.post("/downloads/bulk", {"action": "cancel", "ids": [q1, q2, running]}).json_body
    assert {r["state"] for r in cancelled["results"]} == {"cancelled"}
    retried = api.post("/downloads/bulk", {"action": "retry", "ids": [q1, q2]}).json_body
    assert retried["succeeded"] == 2 and {api.view(i)["state"] for i in (q1, q2)} <= {"queued", "downloading"}

    key = svc.repo.get(running).key
    svc.clients.s3.put_object(Bucket=svc.store.bucket, Key=key, Body=b"stored")
    deleted = api.post("/downloads/bulk", {"action": "delete", "ids": [running, q1, MISSING], "delete_file": True})
    assert deleted.json_body["succeeded"] == 2
    assert [r["state"] for r in deleted.json_body["results"][:2]] == [None, None]
    assert svc.repo.get(running) is None and svc.repo.get(q1) is None
    assert svc.store.size(key) is None
    assert svc.repo.get(q2) is not None

    user_id = people["user"][0]
    entries = activity(user_id, "bulk.pause")
    assert entries and entries[0].actor and entries[0].data["requested"] in (1, 5)
    assert activity(user_id, "bulk.delete")
    model = TaskModel.get(q2)
    assert model.actor == entries[0].actor  # the last change was the user's


def test_a_viewer_may_not_act_in_bulk(client: Client) -> None:
    _, headers, _ = new_user("viewer")
    viewer = Api(client, headers)
    error_of(viewer.post("/downloads/bulk", {"action": "pause", "ids": [MISSING]}), 403, "FORBIDDEN")
    error_of(viewer.post("/downloads/retry-failed"), 403, "FORBIDDEN")
    error_of(viewer.delete("/downloads?status=completed"), 403, "FORBIDDEN")
    error_of(viewer.post("/queue/reorder", {"ids": [MISSING, "x"]}), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "pause", "ids": []}, "ids"),
        ({"action": "pause", "ids": ["a"] * 2}, "ids"),
        ({"action": "pause", "ids": [f"id-{i}" for i in range(501)]}, "ids"),
        ({"action": "pause", "ids": ["../etc"]}, "ids.0"),
        ({"action": "explode", "ids": ["a"]}, "action"),
        ({"ids": ["a"]}, "action"),
        ({"action": "pause", "ids": ["a"], "force": True}, "force"),
        ({"action": "delete", "ids": ["a"], "delete_file": "maybe"}, "delete_file"),
    ],
)
def test_bad_bulk_requests_name_the_field(api: Api, body: dict[str, Any], field: str) -> None:
    assert field in fields_of(api.post("/downloads/bulk", body))


def test_bulk_takes_500_ids(api: Api) -> None:
    ids = [f"missing-{i}" for i in range(500)]
    body = api.post("/downloads/bulk", {"action": "cancel", "ids": ids}).json_body
    assert (body["requested"], body["failed"]) == (500, 500)


# -- retry every failed one ------------------------------------------------------------------


def test_retry_failed_retries_every_failed_download_of_the_caller(api: Api, other: Api, svc, people) -> None:
    api.settings(max_concurrent_downloads=1)
    mine = add(api, 4)
    theirs = add(other)[0]
    for task_id in mine[:3] + [theirs]:
        force(svc, task_id, TaskState.FAILED, error="boom", finished_at=now_ms(), sweep="x",
              expires=datetime(2033, 5, 18, tzinfo=UTC))

    resp = api.post("/downloads/retry-failed")
    assert resp.status_code == 200
    assert resp.json_body["count"] == 3 and sorted(resp.json_body["ids"]) == sorted(mine[:3])
    for task_id in mine[:3]:
        model = TaskModel.get(task_id)
        assert model.state in ("queued", "downloading") and model.error is None
        assert model.sweep is None and model.expires is None  # no longer history retention would delete
    assert api.admin.view(theirs)["state"] == "failed"
    assert api.post("/downloads/retry-failed").json_body == {"count": 0, "ids": []}

    error_of(api.post(f"/downloads/retry-failed?owner={people['other'][0]}"), 403, "FORBIDDEN")
    assert api.admin.post("/downloads/retry-failed").json_body["count"] == 0  # the admin's own: none
    by_admin = api.admin.post(f"/downloads/retry-failed?owner={people['other'][0]}").json_body
    assert by_admin == {"count": 1, "ids": [theirs]}
    assert activity(people["user"][0], "bulk.retry")


# -- clear finished history -----------------------------------------------------------------


def test_clear_history_deletes_the_finished_states_asked_for(api: Api, other: Api, svc, people) -> None:
    api.settings(max_concurrent_downloads=1)
    done1, done2, failed, cancelled, queued, _running = add(api, 6)
    theirs = add(other)[0]
    for task_id in (done1, done2, theirs):
        force(svc, task_id, TaskState.COMPLETED)
    force(svc, failed, TaskState.FAILED)
    force(svc, cancelled, TaskState.CANCELLED)
    key = svc.repo.get(done1).key
    svc.clients.s3.put_object(Bucket=svc.store.bucket, Key=key, Body=b"stored")

    for query in ("", "?status=", "?status=queued", "?status=completed,downloading", "?status=all"):
        assert "status" in fields_of(api.delete(f"/downloads{query}")), query
    assert svc.repo.get(done1) is not None

    resp = api.delete("/downloads?status=completed,failed")
    assert resp.status_code == 200, resp.body
    assert resp.json_body == {"deleted": 3, "by_state": {"completed": 2, "failed": 1}}
    assert [svc.repo.get(i) for i in (done1, done2, failed)] == [None, None, None]
    assert svc.store.size(key) == 6  # the files stay unless asked
    assert {svc.repo.get(i).state for i in (cancelled, queued)} == {TaskState.CANCELLED, TaskState.QUEUED}
    assert svc.repo.get(theirs) is not None

    force(svc, queued, TaskState.COMPLETED)
    qkey = svc.repo.get(queued).key
    svc.clients.s3.put_object(Bucket=svc.store.bucket, Key=qkey, Body=b"x")
    resp = api.delete("/downloads?status=cancelled,completed,cancelled&delete_files=true").json_body
    assert resp == {"deleted": 2, "by_state": {"cancelled": 1, "completed": 1}}
    assert svc.store.size(qkey) is None
    entries = activity(people["user"][0], "history.clear")
    assert len(entries) == 2 and entries[0].data["by_state"] == {"cancelled": 1, "completed": 1}

    by_admin = api.admin.delete(f"/downloads?status=completed&owner={people['other'][0]}").json_body
    assert by_admin == {"deleted": 1, "by_state": {"completed": 1}}
    error_of(api.delete(f"/downloads?status=completed&owner={people['other'][0]}"), 403, "FORBIDDEN")


# -- duplicates -----------------------------------------------------------------------------


def test_adding_a_url_again_answers_with_the_existing_download(api: Api, other: Api, svc) -> None:
    url = "http://127.0.0.1:9/dup/file.bin?x=1"
    first = api.post("/downloads", {"url": url})
    assert first.status_code == 201 and "X-Duplicate-Of" not in first.headers
    tid = first.json_body["id"]

    for spelling in (url, "HTTP://127.0.0.1:9/dup/file.bin?x=1#part", "http://127.0.0.1:9/dup/file.bin?x=1 "):
        again = api.post("/downloads", {"url": spelling, "priority": "HIGH"})
        assert again.status_code == 200, (spelling, again.body)
        assert again.headers["X-Duplicate-Of"] == tid and again.json_body["id"] == tid
        assert again.headers["Location"].endswith(tid)
        assert again.json_body["priority"] == "NORMAL"  # the existing download, unchanged
    assert api.post("/downloads", {"url": url + "&y=2"}).status_code == 201  # another URL

    forced = api.post("/downloads", {"url": url, "allow_duplicate": True})
    assert forced.status_code == 201 and forced.json_body["id"] != tid
    assert other.post("/downloads", {"url": url}).status_code == 201  # another user's is not a duplicate

    # A paused one is a duplicate (the newest live download answers); failed and cancelled ones are not.
    api.post(f"/downloads/{tid}/pause")
    newest = forced.json_body["id"]
    assert api.post("/downloads", {"url": url}).headers.get("X-Duplicate-Of") == newest
    api.post(f"/downloads/{newest}/cancel")
    assert api.post("/downloads", {"url": url}).headers.get("X-Duplicate-Of") == tid
    force(svc, tid, TaskState.FAILED)
    fresh = api.post("/downloads", {"url": url})
    assert fresh.status_code == 201 and fresh.json_body["id"] not in (tid, newest)


def test_add_tells_the_caller_whether_it_was_a_duplicate(svc) -> None:
    from chalicelib.downloads.schemas import AddDownload
    from tests.support.engine import OWNER

    url = f"http://127.0.0.1:9/service/{now_ms()}.bin"
    first = svc.downloads.add(OWNER, AddDownload(url=url))
    second = svc.downloads.add(OWNER, AddDownload(url=url))
    assert (first.duplicate, second.duplicate) == (False, True) and second.id == first.id
    assert svc.downloads.add(OWNER, AddDownload(url=url, allow_duplicate=True)).duplicate is False


def test_completed_is_a_duplicate_and_cancelled_is_not(svc) -> None:
    from chalicelib.downloads.schemas import AddDownload
    from tests.support.engine import OWNER

    url = f"http://127.0.0.1:9/states/{now_ms()}.bin"
    first = svc.downloads.add(OWNER, AddDownload(url=url))
    force(svc, first.id, TaskState.COMPLETED)
    again = svc.downloads.add(OWNER, AddDownload(url=url))
    assert again.duplicate and again.id == first.id and again.state == TaskState.COMPLETED
    force(svc, first.id, TaskState.CANCELLED)
    fresh = svc.downloads.add(OWNER, AddDownload(url=url))
    assert not fresh.duplicate and fresh.id != first.id
    force(svc, fresh.id, TaskState.FAILED)
    assert not svc.downloads.add(OWNER, AddDownload(url=url)).duplicate


# -- speed limit, move, reorder --------------------------------------------------------------


def test_speed_limit_on_add_and_patch(api: Api) -> None:
    tid = api.add(DEAD, speed_limit=1024 * 1024)["id"]
    assert api.view(tid)["speed_limit"] == 1024 * 1024
    assert api.patch(f"/downloads/{tid}", {"priority": "HIGH"}).json_body["speed_limit"] == 1024 * 1024  # absent: kept
    assert api.patch(f"/downloads/{tid}", {"speed_limit": 0}).json_body["speed_limit"] == 0
    assert api.patch(f"/downloads/{tid}", {"speed_limit": None}).json_body["speed_limit"] is None
    assert list(fields_of(api.patch(f"/downloads/{tid}", {"speed_limit": 100}))) == ["speed_limit"]
    assert list(fields_of(api.post("/downloads", {"url": DEAD, "speed_limit": -1}))) == ["speed_limit"]
    assert TaskModel.get(tid).actor  # the user's change


def test_move_to_top_and_bottom(api: Api, svc) -> None:
    api.settings(max_concurrent_downloads=1)
    running, a, b, c = add(api, 4)
    moved = api.post(f"/downloads/{c}/move", {"to": "top"})
    assert moved.status_code == 200 and moved.json_body["id"] == c
    queued = svc.repo.ids_in_state(TaskState.QUEUED)
    assert queued == [c, a, b]
    api.post(f"/downloads/{c}/move", {"to": "bottom"})
    api.post(f"/downloads/{a}/move", {"to": "bottom"})
    assert svc.repo.ids_in_state(TaskState.QUEUED) == [b, c, a]

    error_of(api.post(f"/downloads/{running}/move", {"to": "top"}), 409, "CONFLICT")
    error_of(api.post(f"/downloads/{MISSING}/move", {"to": "top"}), 404, "NOT_FOUND")
    assert list(fields_of(api.post(f"/downloads/{a}/move", {"to": "middle"}))) == ["to"]


def test_reorder_swaps_positions_among_the_given_ids(api: Api, other: Api, svc) -> None:
    api.settings(max_concurrent_downloads=1)
    running, a, b, c, d = add(api, 5)
    assert svc.repo.ids_in_state(TaskState.QUEUED) == [a, b, c, d]
    api.post(f"/downloads/{b}/pause")

    resp = api.post("/queue/reorder", {"ids": [d, b, a]})
    assert resp.status_code == 200, resp.body
    assert resp.json_body == {"reordered": 3, "moved": 2, "ids": [d, b, a]}  # b keeps its slot
    assert svc.repo.ids_in_state(TaskState.QUEUED) == [d, c, a]  # c kept its place between them
    api.post(f"/downloads/{b}/resume")
    assert svc.repo.ids_in_state(TaskState.QUEUED) == [d, b, c, a]

    error = error_of(api.post("/queue/reorder", {"ids": [a, running]}), 409, "CONFLICT")
    assert running in error["message"] and "downloading" in error["message"]
    foreign = add(other)[0]
    error = error_of(api.post("/queue/reorder", {"ids": [a, foreign, MISSING]}), 404, "NOT_FOUND")
    assert foreign in error["message"] and MISSING in error["message"]
    assert svc.repo.ids_in_state(TaskState.QUEUED)[:4] == [d, b, c, a]  # nothing changed
    for body, field in (({"ids": [a]}, "ids"), ({"ids": [a, a]}, "ids"), ({}, "ids")):
        assert field in fields_of(api.post("/queue/reorder", body))


# -- queue control over the API ---------------------------------------------------------------


def test_queue_routes(api: Api, svc) -> None:
    status = api.get("/queue")
    assert status.status_code == 200
    body = status.json_body
    assert (body["state"], body["running"], body["paused_until"]) == ("running", True, None)
    assert isinstance(body["statistics"]["pending_count"], int)  # the user's own figures (chalicelib/stats/store.py)

    for path, payload in (("/queue/stop", None), ("/queue/start", None), ("/queue/pause", {"minutes": 5})):
        error_of(api.post(path, payload), 403, "FORBIDDEN")

    stopped = api.admin.post("/queue/stop").json_body
    assert (stopped["state"], stopped["running"]) == ("stopped", False) and stopped["changed_by"]
    tid = api.add(DEAD)["id"]
    assert api.view(tid)["state"] == "queued"  # nothing starts while the queue is stopped

    paused = api.admin.post("/queue/pause", {"minutes": 30}).json_body
    assert paused["state"] == "paused" and paused["paused_until"] > paused["changed_at"]
    assert api.get("/queue").json_body["state"] == "paused"
    until = api.admin.post("/queue/pause", {"until": "2099-01-01T00:00:00Z"})
    assert "until" in fields_of(until)
    for bad in ({}, {"seconds": 0}, {"seconds": 5, "minutes": 1}, {"minutes": 43201}, {"until": "2000-01-01T00:00:00Z"},
                {"until": "tomorrow"}, {"hours": 1}):
        assert api.admin.post("/queue/pause", bad).status_code == 422, bad

    started = api.admin.post("/queue/start").json_body
    assert (started["state"], started["paused_until"]) == ("running", None)
    assert api.view(tid)["state"] == "downloading"
    kinds = [e.kind for e in ActivityModel.query("system", scan_index_forward=False, limit=20)]
    assert {"queue.stop", "queue.pause", "queue.start"} <= set(kinds)
