"""Who sees and changes what: every role against every download endpoint, on their own
downloads and on someone else's (docs/security.md).

Rules: a user lists, reads and changes only their own downloads; an admin sees and changes
everyone's; a viewer reads only their own and changes nothing. Someone else's download
answers exactly what a missing one does (404), so ids leak nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from chalice.test import Client

from tests.functional.test_api import DEAD, Api, assert_envelope
from tests.support.auth import new_user

MISSING = "00000000-0000-4000-8000-000000000000"


class World:
    def __init__(self, client: Client, people: dict[str, tuple[str, dict[str, str]]]) -> None:
        self.client = client
        self.ids = {who: user_id for who, (user_id, _) in people.items()}
        self.headers = {"anonymous": {}, **{who: headers for who, (_, headers) in people.items()}}
        self.tasks: dict[str, str] = {}

    def api(self, who: str) -> Api:
        return Api(self.client, self.headers[who])

    def make_task(self, svc: Any, who: str) -> None:
        """A paused download of ``who`` (the viewer's made as if they had been a user before)."""
        from chalicelib.auth.identity import Identity, Role
        from chalicelib.domain.states import Action
        from chalicelib.schemas import AddDownload

        old = self.tasks.get(who)
        if old and svc.repo.get(old) is not None:
            svc.repo.delete(old)
        creator = Identity(self.ids[who], who, Role.USER)
        task = svc.downloads.add(creator, AddDownload(url=DEAD, filename=f"{who}.bin"))
        svc.downloads.act(creator, task.id, Action.PAUSE)
        self.tasks[who] = task.id


@pytest.fixture(scope="module")
def world(emulator: str) -> Iterator[World]:
    """Four users and a paused download each for alice, bob and the viewer, for the module."""
    from app import app
    from chalicelib.container import services
    from chalicelib.models import TaskModel

    svc = services()
    for item in TaskModel.scan():
        item.delete()
    people = {}
    for who in ("admin", "alice", "bob", "viewer"):
        role = {"alice": "user", "bob": "user"}.get(who, who)
        user_id, headers, _ = new_user(role, f"{who}-{uuid.uuid4().hex[:6]}")
        people[who] = (user_id, headers)
    svc.accounts.rate_limit_per_minute = 0
    w = World(Client(app), people)
    for who in ("alice", "bob", "viewer"):
        w.make_task(svc, who)
    yield w
    svc.accounts.rate_limit_per_minute = svc.config.rate_limit_per_minute
    for item in TaskModel.scan():
        item.delete()


# Every download endpoint that takes an id: (method, path, body). Reads first, then writes.
READS = [("GET", "/downloads/{id}", None), ("GET", "/downloads/{id}/file", None)]
WRITES = [
    ("PATCH", "/downloads/{id}", {"priority": "HIGH"}),
    ("POST", "/downloads/{id}/pause", None),
    ("POST", "/downloads/{id}/resume", None),
    ("POST", "/downloads/{id}/retry", None),
    ("POST", "/downloads/{id}/cancel", None),
    ("DELETE", "/downloads/{id}", None),
]
# An allowed call may still be refused by the download's state (409), never by ownership.
ALLOWED = {200, 409}


def expected(who: str, owner: str, method: str) -> set[int]:
    write = method != "GET"
    if who == "anonymous":
        return {401}
    if who == "viewer" and write:
        return {403}
    if who == "admin" or who == owner:
        return ALLOWED
    return {404}


MATRIX = [
    (who, owner, method, path, body)
    for who in ("anonymous", "admin", "alice", "bob", "viewer")
    for owner in ("alice", "bob", "viewer")
    for method, path, body in READS + WRITES
]


@pytest.mark.parametrize(("who", "owner", "method", "path", "body"), MATRIX,
                         ids=[f"{w}-on-{o}-{m}-{p.rsplit('/', 1)[-1].replace('{id}', 'id')}" for w, o, m, p, _ in MATRIX])
def test_the_isolation_matrix(world: World, who: str, owner: str, method: str, path: str, body: Any) -> None:
    api = world.api(who)
    task_id = world.tasks[owner]
    before = world.api("admin").view(task_id)
    resp = api.call(method, path.format(id=task_id), body)
    assert resp.status_code in expected(who, owner, method), (resp.status_code, resp.body)
    if resp.status_code >= 400:
        error = assert_envelope(resp)
        if resp.status_code == 404:
            # Exactly what a download that does not exist answers.
            missing = api.call(method, path.format(id=MISSING), body)
            assert missing.status_code == 404
            assert error["message"].replace(task_id, "<id>") == missing.json_body["error"]["message"].replace(
                MISSING, "<id>")
        # A refused call changed nothing.
        assert world.api("admin").view(task_id) == before
    elif method != "GET":
        from chalicelib.container import services

        world.make_task(services(), owner)  # the next case starts from a fresh paused download


@pytest.mark.parametrize("who", ["admin", "alice", "bob", "viewer"])
def test_lists_show_only_what_the_caller_may_see(world: World, who: str) -> None:
    api = world.api(who)
    seen = {t["id"] for t in api.get("/downloads").json_body["tasks"]}
    if who == "admin":
        assert seen == set(world.tasks.values())
        assert api.get("/downloads").headers["X-Total-Count"] == "3"
        mine = api.get(f"/downloads?owner={world.ids['bob']}").json_body
        assert {t["id"] for t in mine["tasks"]} == {world.tasks["bob"]} and mine["total"] == 1
        paused = api.get("/downloads?status=paused").json_body
        assert {t["id"] for t in paused["tasks"]} == set(world.tasks.values())
        assert api.get("/downloads?status=queued").json_body["total"] == 0
    else:
        assert seen == {world.tasks[who]}
        for status in ("paused", "queued"):
            for task in api.get(f"/downloads?status={status}").json_body["tasks"]:
                assert task["owner"] == world.ids[who]
        assert api.get(f"/downloads?owner={world.ids[who]}").status_code == 200
        other = "bob" if who != "bob" else "alice"
        resp = api.get(f"/downloads?owner={world.ids[other]}")
        assert resp.status_code == 403 and assert_envelope(resp)["code"] == "FORBIDDEN"


def test_admin_lists_pages_across_owners(world: World) -> None:
    admin = world.api("admin")
    first = admin.get("/downloads?per_page=2").json_body
    assert len(first["tasks"]) == 2 and first["next_cursor"] and first["pages"] == 2
    rest = admin.get(f"/downloads?per_page=2&cursor={first['next_cursor']}").json_body
    assert {t["id"] for t in first["tasks"] + rest["tasks"]} == set(world.tasks.values())
    assert [len(admin.get(f"/downloads?per_page=2&page={n}").json_body["tasks"]) for n in (1, 2, 3)] == [2, 1, 0]
    # An owner list's cursor is not an all-owners cursor, and the reverse.
    bobs = admin.get(f"/downloads?per_page=1&owner={world.ids['alice']}").json_body
    for cursor in (first["next_cursor"], "garbage"):
        resp = admin.get(f"/downloads?owner={world.ids['alice']}&cursor={cursor}")
        assert resp.status_code == 422
    assert bobs["total"] == 1


def test_who_may_add_downloads_and_change_settings(world: World, svc) -> None:  # type: ignore[no-untyped-def]
    for who, status in (("anonymous", 401), ("viewer", 403), ("alice", 201), ("admin", 201)):
        resp = world.api(who).post("/downloads", {"url": DEAD, "allow_duplicate": True})
        assert resp.status_code == status, (who, resp.body)
        if status == 201:
            assert resp.json_body["owner"] == world.ids[who]
            svc.repo.delete(resp.json_body["id"])
    for who, status in (("anonymous", 401), ("viewer", 403), ("alice", 403), ("admin", 200)):
        assert world.api(who).patch("/settings", {"parallel_parts": 8}).status_code == status, who
    for who, status in (("anonymous", 401), ("viewer", 200), ("alice", 200), ("admin", 200)):
        assert world.api(who).get("/settings").status_code == status, who
    for who, status in (("anonymous", 401), ("viewer", 403), ("alice", 403), ("admin", 200)):
        assert world.api(who).get("/users").status_code == status, who
        assert world.api(who).get(f"/users/{world.ids['bob']}").status_code == status, who
