"""The activity log against the local runtime: a download's transitions (from the tasks
table's stream, through the stream poller) and a user's pause appear with their actor and
task; the log exports as CSV; clearing answers a count."""

from __future__ import annotations

import csv
import io
import os
import uuid
from typing import Any

import requests

from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess, wait_state
from tests.support.wait import wait_for

MiB = 1024 * 1024


def _user(rt: RuntimeProcess) -> tuple[str, requests.Session]:
    name, password = f"act-{uuid.uuid4().hex[:8]}", "activity test password"
    made = rt.http.post(f"{rt.api}/users", json={"username": name, "password": password}, timeout=10)
    assert made.status_code == 201, made.text
    session = requests.Session()
    token = session.post(f"{rt.api}/auth/login", json={"username": name, "password": password}, timeout=10)
    session.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    return name, session


def _entries(session: requests.Session, api: str, **params: Any) -> list[dict[str, Any]]:
    resp = session.get(f"{api}/activity", params={"per_page": 200, **params}, timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["X-Total-Count"] == str(resp.json()["total"])
    return list(resp.json()["entries"])


def _transitions(session: requests.Session, api: str, task_id: str) -> list[tuple[str, str]]:
    return [(e["message"].split(": ", 1)[1], e["actor"]) for e in
            reversed(_entries(session, api, task_id=task_id, kind="task.state"))]


def test_transitions_and_user_actions_are_logged(runtime: RuntimeProcess, origin: Origin) -> None:
    api = runtime.api
    name, me = _user(runtime)
    origin.add("/quick.bin", Resource(data=os.urandom(MiB)))
    origin.add("/slow.bin", Resource(data=os.urandom(8 * MiB), throttle_bps=256 * 1024))

    quick = me.post(f"{api}/downloads", json={"url": origin.url("/quick.bin")}, timeout=10).json()
    done = wait_state(
        api, quick["id"], {"completed", "failed"}, headers={"Authorization": str(me.headers["Authorization"])}
    )
    assert done["state"] == "completed", done["error"]
    wait_for(lambda: ("downloading → completed", "engine") in _transitions(me, api, quick["id"]), 30,
             0.2, "the completion in the log")
    assert _transitions(me, api, quick["id"]) == [("queued → downloading", "engine"),
                                                   ("downloading → completed", "engine")]
    entry = _entries(me, api, task_id=quick["id"], kind="task.state")[0]
    assert entry["owner"] and entry["task_id"] == quick["id"] and entry["level"] == "info"

    slow = me.post(f"{api}/downloads", json={"url": origin.url("/slow.bin")}, timeout=10).json()
    wait_state(api, slow["id"], {"downloading"}, headers={"Authorization": str(me.headers["Authorization"])})
    paused = me.post(f"{api}/downloads/{slow['id']}/pause", timeout=10)
    assert paused.status_code == 200, paused.text
    wait_for(lambda: ("downloading → paused", name) in _transitions(me, api, slow["id"]), 30, 0.2,
             "the user's pause in the log")
    assert me.delete(f"{api}/downloads/{slow['id']}", timeout=10).status_code == 200
    wait_for(lambda: _entries(me, api, task_id=slow["id"], kind="task.removed"), 30, 0.2, "the removal in the log")

    # Someone else sees none of it; the admin sees all of it.
    _, other = _user(runtime)
    assert other.get(f"{api}/activity", params={"task_id": quick["id"]}, timeout=10).status_code == 404
    assert all(e["task_id"] != quick["id"] for e in _entries(other, api))
    assert len(_entries(runtime.http, api, task_id=quick["id"], kind="task.state")) == 2

    export = me.get(f"{api}/activity/export", params={"format": "csv", "kind": "task"}, timeout=10)
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert "attachment; filename=haul-activity-" in export.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert {(r["task_id"], r["kind"]) for r in rows} >= {(quick["id"], "task.state"), (slow["id"], "task.removed")}
    assert any(r["actor"] == name and r["message"].endswith("downloading → paused") for r in rows)

    cleared = me.delete(f"{api}/activity", params={"older_than_days": 1}, timeout=10)
    assert cleared.status_code == 200 and cleared.json() == {"deleted": 0}  # everything is younger than a day
    assert len(_entries(me, api, task_id=quick["id"], kind="task.state")) == 2
