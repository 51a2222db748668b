"""Queue control against the real local runtime, over HTTP: stop/start with a download running,
a timed pause that ends by itself, reordering, bulk actions, retry-failed, clearing history and
duplicate answers."""

from __future__ import annotations

import os
import uuid
from typing import Any

import requests

from tests.support.auth import PASSWORD, session
from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess, wait_state
from tests.support.wait import wait_for

MiB = 1024 * 1024
DONE = {"completed", "failed"}


def _ranges(served: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return sorted(r["range"] for r in served if r.get("status") == 206 and r.get("range") != (0, 0))


def _work_idle(runtime: RuntimeProcess) -> bool:
    sqs = runtime.client("sqs")
    url = sqs.get_queue_url(QueueName=f"haul-{runtime.stage}-work")["QueueUrl"]
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return all(attrs[n] == "0" for n in names)


def _bounds(size: int, part: int, numbers: list[int]) -> list[tuple[int, int]]:
    return sorted((part * (n - 1), min(size, part * n) - 1) for n in numbers)


def _queue(http: requests.Session, api: str, action: str, body: Any = None) -> dict[str, Any]:
    answer = http.post(f"{api}/queue/{action}", json=body, timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_stop_start_and_a_timed_pause_over_http(runtime: RuntimeProcess, origin: Origin) -> None:
    api, http = runtime.api, runtime.http
    settings = {"part_size": 5 * MiB, "parallel_parts": 2, "max_concurrent_downloads": 3}
    assert http.patch(f"{api}/settings", json=settings, timeout=5).status_code == 200
    size = 6 * 5 * MiB + 3
    # Slow enough (~9 s in all) that the stop lands mid-download even on a loaded 2-core machine.
    res = origin.add("/held.bin", Resource(data=os.urandom(size), throttle_bps=4 * MiB))

    task = http.post(f"{api}/downloads", json={"url": origin.url("/held.bin")}, timeout=5).json()
    wait_for(lambda: runtime.recorded_parts(task["id"]), 30, what="the first part")
    stopped = _queue(http, api, "stop")
    assert (stopped["state"], stopped["running"], stopped["changed_by"]) == ("stopped", False, "admin")
    held = http.get(f"{api}/downloads/{task['id']}", timeout=5).json()
    assert (held["state"], held["phase"], held["note"]) == ("queued", "held", "queue stopped")
    assert http.get(f"{api}/queue", timeout=5).json()["state"] == "stopped"

    # The parts in flight land, and no lane goes on: the work queue drains.
    wait_for(lambda: _work_idle(runtime), 30, what="the work queue to drain")
    have = sorted(runtime.recorded_parts(task["id"]))
    assert len(have) < 7, "the stop came too late to test anything"
    assert set(_bounds(size, 5 * MiB, have)) <= set(_ranges(res.requests))
    before = len(res.requests)

    assert _queue(http, api, "start")["state"] == "running"
    done = wait_state(api, task["id"], DONE, headers=runtime.headers)
    assert done["state"] == "completed", done["error"]
    missing = [n for n in range(1, 8) if n not in have]
    assert _ranges(res.requests[before:]) == _bounds(size, 5 * MiB, missing)

    # A timed pause: nothing starts until it is over, then the queue runs again by itself.
    origin.add("/later.bin", Resource(data=os.urandom(MiB)))
    paused = _queue(http, api, "pause", {"seconds": 2})
    assert paused["state"] == "paused" and paused["paused_until"]
    later = http.post(f"{api}/downloads", json={"url": origin.url("/later.bin")}, timeout=5).json()
    assert later["state"] == "queued"
    assert wait_state(api, later["id"], DONE, timeout=30, headers=runtime.headers)["state"] == "completed"
    status = http.get(f"{api}/queue", timeout=5).json()
    assert (status["state"], status["changed_by"]) == ("running", "engine")
    assert isinstance(status["statistics"], dict)


def test_reorder_bulk_history_and_duplicates_over_http(runtime: RuntimeProcess, origin: Origin) -> None:
    api, admin = runtime.api, runtime.http
    name = f"user-{uuid.uuid4().hex[:8]}"
    made = admin.post(f"{api}/users", json={"username": name, "password": PASSWORD, "role": "user"}, timeout=5)
    assert made.status_code == 201, made.text
    user = session(api, name, PASSWORD)
    assert user.post(f"{api}/queue/stop", timeout=5).status_code == 403  # the queue is shared: admins only
    assert admin.patch(f"{api}/settings", json={"max_concurrent_downloads": 1}, timeout=5).status_code == 200
    _queue(admin, api, "stop")

    for n in "abcd":
        origin.add(f"/{n}.bin", Resource(data=os.urandom(256 * 1024)))
    ids = {}
    for n in "abcd":
        answer = user.post(f"{api}/downloads", json={"url": origin.url(f"/{n}.bin")}, timeout=5)
        assert answer.status_code == 201, answer.text
        ids[n] = answer.json()["id"]

    dup = user.post(f"{api}/downloads", json={"url": origin.url("/a.bin")}, timeout=5)
    assert dup.status_code == 200 and dup.headers["X-Duplicate-Of"] == ids["a"] == dup.json()["id"]
    forced = user.post(f"{api}/downloads", json={"url": origin.url("/a.bin"), "allow_duplicate": True}, timeout=5)
    assert forced.status_code == 201 and "X-Duplicate-Of" not in forced.headers

    missing = str(uuid.uuid4())
    bulk = user.post(f"{api}/downloads/bulk", json={"action": "delete", "ids": [forced.json()["id"], missing]},
                     timeout=10).json()
    assert (bulk["succeeded"], bulk["failed"]) == (1, 1)
    assert bulk["results"][1]["error"]["code"] == "NOT_FOUND"
    paused = user.post(f"{api}/downloads/bulk", json={"action": "pause", "ids": [ids["d"]]}, timeout=10).json()
    assert paused["results"][0]["state"] == "paused"

    moved = user.post(f"{api}/downloads/{ids['c']}/move", json={"to": "top"}, timeout=5)
    assert moved.status_code == 200, moved.text
    reordered = user.post(f"{api}/queue/reorder", json={"ids": [ids["b"], ids["a"]]}, timeout=5)
    assert reordered.status_code == 200 and reordered.json()["reordered"] == 2, reordered.text
    user.post(f"{api}/downloads/bulk", json={"action": "resume", "ids": [ids["d"]]}, timeout=10)

    _queue(admin, api, "start")
    done = [wait_state(api, ids[n], DONE, headers=user.headers) for n in "abcd"]  # type: ignore[arg-type]
    assert {t["state"] for t in done} == {"completed"}
    started = [t["id"] for t in sorted(done, key=lambda t: t["started_at"])]
    assert started == [ids["c"], ids["b"], ids["a"], ids["d"]]

    assert user.post(f"{api}/downloads/retry-failed", timeout=10).json() == {"count": 0, "ids": []}
    cleared = user.delete(f"{api}/downloads", params={"status": "completed,failed"}, timeout=30)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json() == {"deleted": 4, "by_state": {"completed": 4, "failed": 0}}
    assert user.get(f"{api}/downloads", timeout=5).json()["total"] == 0
    assert user.delete(f"{api}/downloads", params={"status": "queued"}, timeout=5).status_code == 422
    assert admin.patch(f"{api}/settings", json={"max_concurrent_downloads": 3}, timeout=5).status_code == 200
