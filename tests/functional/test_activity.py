"""The activity log against the emulator: stream records -> entries (idempotent on retry),
reading with filters and pages, isolation, export and clearing (chalicelib/activity/log.py)."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from typing import Any

import pytest
from chalice.test import Client

from tests.functional.test_api import Api, assert_envelope, fields_of
from tests.support.auth import PASSWORD, new_user

DAY = 86_400_000


def image(task_id: str, owner: str, state: str, updated: int, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": {"S": task_id}, "owner": {"S": owner}, "state": {"S": state}, "filename": {"S": "movie.mkv"},
        "url": {"S": "https://example.com/movie.mkv"}, "updated_at": {"N": str(updated)},
        "restarts": {"N": str(extra.pop("restarts", 0))},
    }
    for name, value in extra.items():
        out[name] = {"S": value}
    return out


def modify(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {"eventID": uuid.uuid4().hex, "eventName": "MODIFY",
            "dynamodb": {"OldImage": old, "NewImage": new, "ApproximateCreationDateTime": 1.0}}


class World:
    def __init__(self, svc: Any) -> None:
        from app import app

        client = Client(app)
        self.svc = svc
        self.ids: dict[str, str] = {}
        self.apis: dict[str, Api] = {}
        for who, role in (("admin", "admin"), ("alice", "user"), ("bob", "user")):
            user_id, headers, login = new_user(role)
            self.ids[who] = user_id
            self.apis[who] = Api(client, headers)
            self.apis[who].username = login["user"]["username"]  # type: ignore[attr-defined]


@pytest.fixture()
def world(svc, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    return World(svc)


def story(world: World, now: int) -> tuple[str, str, list[dict[str, Any]]]:
    """Alice's download: queued -> downloading -> restarted -> paused (by her) -> queued -> downloading ->
    failed, a progress write, then removed; as stream records."""
    alice, task, batch = world.ids["alice"], str(uuid.uuid4()), str(uuid.uuid4())
    steps: list[tuple[str, str, str, dict[str, Any]]] = [
        ("queued", "downloading", "engine", {}),
        ("downloading", "downloading", "engine", {"restarts": 1, "note": "the source changed; restarted"}),
        ("downloading", "paused", "alice", {"restarts": 1}),
        ("paused", "queued", "alice", {"restarts": 1}),
        ("queued", "downloading", "engine", {"restarts": 1}),
        ("downloading", "failed", "engine", {"restarts": 1, "error": "HTTP 404 from the origin"}),
        ("failed", "failed", "engine", {"restarts": 1, "error": "HTTP 404 from the origin"}),  # nothing new
    ]
    records = [{"eventID": uuid.uuid4().hex, "eventName": "INSERT",
                "dynamodb": {"NewImage": image(task, alice, "queued", now - 10_000, batch_id=batch)}}]
    prev = image(task, alice, "queued", now - 10_000, batch_id=batch, actor="alice")
    for i, (_, target, actor, extra) in enumerate(steps):
        new = image(task, alice, target, now - 9000 + i * 1000, batch_id=batch, actor=actor, **extra)
        records.append(modify(prev, new))
        prev = new
    records.append({"eventID": uuid.uuid4().hex, "eventName": "REMOVE",
                    "dynamodb": {"OldImage": prev, "ApproximateCreationDateTime": (now - 1000) / 1000}})
    return task, batch, records


def test_stream_records_become_entries_once(world: World) -> None:
    from chalicelib.persistence.repository import now_ms

    now = now_ms()
    task, batch, records = story(world, now)
    log = world.svc.activity
    assert log.handle_changes(records) == 7
    assert log.handle_changes(records) == 7  # a retried batch writes the same entries
    alice = world.apis["alice"]
    body = alice.get("/activity?per_page=100").json_body
    entries = [e for e in body["entries"] if e["task_id"] == task]
    assert len(entries) == 7 and body["total"] >= 7
    assert [(e["kind"], e["level"], e["actor"]) for e in entries] == [
        ("task.removed", "info", "engine"),
        ("task.state", "error", "engine"),
        ("task.state", "info", "engine"),
        ("task.state", "info", "alice"),
        ("task.state", "info", "alice"),
        ("task.restart", "warning", "engine"),
        ("task.state", "info", "engine"),
    ]
    assert entries[1]["message"] == "movie.mkv: downloading → failed: HTTP 404 from the origin"
    assert entries[4]["message"] == "movie.mkv: downloading → paused"
    assert all(e["owner"] == world.ids["alice"] and e["batch_id"] == batch for e in entries)
    assert entries[1]["data"] == {"from": "downloading", "to": "failed", "error": "HTTP 404 from the origin"}
    ats = [e["at"] for e in entries]
    assert ats == sorted(ats, reverse=True)  # newest first

    by_task = alice.get(f"/activity?task_id={task}").json_body
    assert [e["id"] for e in by_task["entries"]] == [e["id"] for e in entries]
    assert [e["kind"] for e in alice.get(f"/activity?task_id={task}&level=warning").json_body["entries"]] == [
        "task.state", "task.restart"]
    assert alice.get(f"/activity?batch_id={batch}&kind=task.removed").json_body["total"] == 1
    assert alice.get(f"/activity?batch_id={batch}&kind=task").json_body["total"] == 7
    assert alice.get(f"/activity?batch_id={batch}&kind=tas").json_body["total"] == 0
    assert alice.get(f"/activity?batch_id={batch}&q=404 FROM").json_body["total"] == 1
    window = alice.get(f"/activity?batch_id={batch}&since={now - 7500}&until={now - 5500}").json_body
    assert window["total"] == 2  # the steps at -7000 and -6000
    # Bob sees none of it, and Alice's task is not his to ask about.
    bob = world.apis["bob"]
    assert bob.get(f"/activity?batch_id={batch}").json_body["total"] == 0
    assert bob.get(f"/activity?task_id={task}").json_body["total"] == 0
    # The admin sees everyone's (the by-day index), or one owner's.
    admin = world.apis["admin"]
    assert admin.get(f"/activity?batch_id={batch}").json_body["total"] == 7
    assert admin.get(f"/activity?batch_id={batch}&owner={world.ids['alice']}").json_body["total"] == 7
    assert admin.get(f"/activity?task_id={task}").json_body["total"] == 7


def test_pages_follow_the_link_header_and_cursors_are_checked(world: World) -> None:
    from chalicelib.persistence.repository import now_ms

    log, alice = world.svc.activity, world.ids["alice"]
    now = now_ms()
    for i in range(7):
        log.record(owner=alice, actor="alice", kind="task.pause", message=f"step {i}", at=now - 1000 + i)
    api = world.apis["alice"]
    seen: list[str] = []
    url: str | None = "/activity?per_page=3&kind=task.pause"
    pages = 0
    while url:
        resp = api.get(url)
        assert resp.headers["X-Total-Count"] == "7"
        seen += [e["message"] for e in resp.json_body["entries"]]
        nxt = re.search(r'<[^>]*(/activity\?[^>]*)>; rel="next"', resp.headers["Link"])
        url, pages = (nxt.group(1) if nxt else None), pages + 1
    assert seen == [f"step {i}" for i in range(6, -1, -1)] and pages == 3
    third = api.get("/activity?per_page=3&kind=task.pause&page=3").json_body
    assert [e["message"] for e in third["entries"]] == ["step 0"]
    cursor = api.get("/activity?per_page=3&kind=task.pause").json_body["next_cursor"]
    for query in ("kind=task.resume", "level=error&kind=task.pause", "kind=task.pause&cursor=garbage"):
        suffix = "" if "cursor=" in query else f"&cursor={cursor}"
        assert list(fields_of(api.get(f"/activity?per_page=3&{query}{suffix}"))) == ["cursor"]
    assert list(fields_of(world.apis["bob"].get(f"/activity?per_page=3&kind=task.pause&cursor={cursor}"))) == [
        "cursor"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("level=loud", "level"), ("since=soon", "since"), ("since=2024-02-01&until=2024-01-01", "until"),
     ("per_page=0", "per_page"), ("task_id=../x", "task_id"), ("q=", "q"), ("colour=red", "colour")],
)
def test_bad_activity_parameters_name_the_parameter(world: World, query: str, field: str) -> None:
    assert list(fields_of(world.apis["alice"].get(f"/activity?{query}"))) == [field]


def test_another_users_log_is_forbidden_and_their_task_is_not_found(world: World) -> None:
    from chalicelib.auth.identity import Identity, Role
    from chalicelib.downloads.schemas import AddDownload

    resp = world.apis["bob"].get(f"/activity?owner={world.ids['alice']}")
    assert resp.status_code == 403 and assert_envelope(resp)["code"] == "FORBIDDEN"
    task = world.svc.downloads.add(Identity(world.ids["alice"], "alice", Role.USER),
                                   AddDownload(url=f"http://127.0.0.1:9/{uuid.uuid4().hex}.bin"))
    try:
        assert world.apis["bob"].get(f"/activity?task_id={task.id}").status_code == 404
        assert world.apis["alice"].get(f"/activity?task_id={task.id}").status_code == 200
    finally:
        world.svc.repo.delete(task.id)


def test_expired_entries_are_not_shown(world: World) -> None:
    from chalicelib.persistence.repository import now_ms

    log, alice, now = world.svc.activity, world.ids["alice"], now_ms()
    log.record(owner=alice, actor="alice", kind="old.thing", message="long ago", at=now - 40 * DAY)
    log.record(owner=alice, actor="alice", kind="old.thing", message="recent", at=now - 1 * DAY)
    body = world.apis["alice"].get("/activity?kind=old").json_body
    assert [e["message"] for e in body["entries"]] == ["recent"] and body["total"] == 1


def test_export_as_json_lines_and_csv(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activity import log as activity
    from chalicelib.persistence.repository import now_ms

    log, alice, now = world.svc.activity, world.ids["alice"], now_ms()
    for i in range(5):
        log.record(owner=alice, actor="alice", kind="export.test", message=f"=cmd {i}, \"quoted\"", at=now - 100 + i,
                   data={"i": i})
    api = world.apis["alice"]
    resp = api.get("/activity/export?kind=export")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/x-ndjson"
    assert re.fullmatch(
        r"attachment; filename=haul-activity-\d{4}-\d\d-\d\d\.jsonl", resp.headers["Content-Disposition"]
    )
    lines = [json.loads(line) for line in resp.body.decode().splitlines()]
    assert [e["data"]["i"] for e in lines] == [4, 3, 2, 1, 0] and resp.headers["X-Truncated"] == "false"
    resp = api.get("/activity/export?kind=export&format=csv")
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.headers["Content-Disposition"].endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(resp.body.decode())))
    assert len(rows) == 5 and rows[0]["message"] == "'=cmd 4, \"quoted\"" and json.loads(rows[0]["data"]) == {"i": 4}
    assert set(rows[0]) == set(activity.CSV_FIELDS)
    monkeypatch.setattr(activity, "EXPORT_MAX_ENTRIES", 3)
    resp = api.get("/activity/export?kind=export")
    assert len(resp.body.decode().splitlines()) == 3 and resp.headers["X-Truncated"] == "true"
    assert world.apis["bob"].get("/activity/export?kind=export").body == b""


def test_clear_older_than_n_days(world: World) -> None:
    from chalicelib.persistence.repository import now_ms

    log, now = world.svc.activity, now_ms()
    for who in ("alice", "bob"):
        for age in (1, 5, 10):
            log.record(owner=world.ids[who], actor=who, kind="clear.test", message=f"{age} days", at=now - age * DAY)
    alice, bob, admin = world.apis["alice"], world.apis["bob"], world.apis["admin"]
    assert list(fields_of(alice.delete("/activity?older_than_days=0"))) == ["older_than_days"]
    assert list(fields_of(alice.delete("/activity"))) == ["older_than_days"]
    assert alice.delete("/activity?older_than_days=3").json_body == {"deleted": 2}
    assert [e["message"] for e in alice.get("/activity?kind=clear").json_body["entries"]] == ["1 days"]
    assert bob.get("/activity?kind=clear").json_body["total"] == 3
    assert admin.delete("/activity?older_than_days=7").json_body["deleted"] >= 1
    assert [e["message"] for e in bob.get("/activity?kind=clear").json_body["entries"]] == ["1 days", "5 days"]
    from app import app

    viewer = Api(Client(app), new_user("viewer")[1])
    assert viewer.delete("/activity?older_than_days=3").status_code == 403


def test_account_actions_are_logged(world: World) -> None:
    admin, alice = world.apis["admin"], world.apis["alice"]
    name = f"acct-{uuid.uuid4().hex[:8]}"
    created = admin.post("/users", {"username": name, "password": "a long enough password"})
    assert created.status_code == 201
    user_id = created.json_body["id"]
    admin.patch(f"/users/{user_id}", {"role": "viewer"})
    bad = alice.call("POST", "/auth/login", {"username": name, "password": "wrong password!"})
    assert bad.status_code == 401
    admin.delete(f"/users/{user_id}")
    kinds = [e["kind"] for e in admin.get(f"/activity?owner={user_id}").json_body["entries"]]
    assert kinds == ["user.delete", "auth.login_failed", "user.update", "user.create"]
    key = alice.post("/auth/api-keys", {"name": "script", "password": PASSWORD}).json_body
    alice.delete(f"/auth/api-keys/{key['id']}")
    mine = [e["kind"] for e in alice.get("/activity?kind=apikey").json_body["entries"]]
    assert mine[:2] == ["apikey.revoke", "apikey.create"]
