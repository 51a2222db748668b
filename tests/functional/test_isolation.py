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
        from chalicelib.downloads.schemas import AddDownload

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
    from chalicelib.persistence.models import TaskModel

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


@pytest.mark.parametrize(
    ("who", "owner", "method", "path", "body"),
    MATRIX,
    ids=[f"{w}-on-{o}-{m}-{p.rsplit('/', 1)[-1].replace('{id}', 'id')}" for w, o, m, p, _ in MATRIX],
)
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


def test_who_may_add_downloads_and_change_settings(world: World, svc) -> None:
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


# -- batches: one owner each (issue #11, item 1) ---------------------------------------------


def _batch_tasks(world: World, who: str, batch_id: str) -> set[str]:
    resp = world.api(who).get(f"/batches/{batch_id}")
    assert resp.status_code == 200, resp.body
    return {t["id"] for t in resp.json_body["tasks"]}


def _own_tasks(world: World, who: str) -> set[str]:
    return {t["id"] for t in world.api(who).get("/downloads?per_page=200").json_body["tasks"]}


@pytest.mark.parametrize(("first", "second"), [("alice", "bob"), ("bob", "alice")])
def test_a_batch_id_belongs_to_whoever_used_it_first(world: World, svc, first: str, second: str) -> None:
    """The review's takeover: the second user to name a batch id gets a 409 and adds nothing;
    neither can read, act on or delete the other's batch through the shared id."""
    batch_id = f"nightly-{uuid.uuid4().hex[:8]}"
    made = world.api(first).add(DEAD, batch_id=batch_id, filename="first.bin")
    before = _own_tasks(world, second)
    resp = world.api(second).post("/downloads", {"url": DEAD + "?sig=secret", "batch_id": batch_id,
                                                 "allow_duplicate": True})
    assert resp.status_code == 409, resp.body
    error = assert_envelope(resp)
    assert error["code"] == "CONFLICT" and error["details"][0]["field"] == "batch_id"
    assert _own_tasks(world, second) == before  # nothing created
    # The owner's view is whole and only theirs; the other's is what a missing batch answers.
    assert _batch_tasks(world, first, batch_id) == {made["id"]}
    assert world.api("admin").get(f"/batches/{batch_id}").json_body["batch"]["owner"] == world.ids[first]
    for method, path in (("GET", ""), ("POST", "/pause"), ("POST", "/resume"), ("POST", "/retry-failed"),
                         ("DELETE", "")):
        resp = world.api(second).call(method, f"/batches/{batch_id}{path}")
        assert resp.status_code == 404 and assert_envelope(resp)["code"] == "NOT_FOUND", (method, path, resp.body)
    assert svc.repo.get(made["id"]) is not None
    # The owner may go on adding to it.
    again = world.api(first).add(DEAD + "?2", batch_id=batch_id)
    assert _batch_tasks(world, first, batch_id) == {made["id"], again["id"]}
    for task_id in (made["id"], again["id"]):
        svc.repo.delete(task_id)


def test_a_deleted_batch_s_id_can_be_reused_and_shows_only_its_new_owner_s_downloads(world: World, svc) -> None:
    from chalicelib.auth.identity import Identity, Role
    from chalicelib.downloads.schemas import AddDownload

    batch_id = f"reused-{uuid.uuid4().hex[:8]}"
    alices = world.api("alice").add(DEAD, batch_id=batch_id)
    # A download of alice's that the batch's deletion missed (added while it ran) keeps the id.
    alice = Identity(world.ids["alice"], "alice", Role.USER)
    straggler = svc.downloads.add(alice, AddDownload(url=DEAD + "?late", batch_id=batch_id, allow_duplicate=True))
    svc.repo.delete(straggler.id)
    deleted = world.api("alice").delete(f"/batches/{batch_id}")
    assert deleted.status_code == 200 and deleted.json_body["affected"] == 1, deleted.body
    assert svc.repo.get(alices["id"]) is None
    svc.repo.create(straggler)  # back, as if it had been written just after the deletion's read
    # The id is free again: bob takes it.
    bobs = world.api("bob").add(DEAD, batch_id=batch_id)
    assert _batch_tasks(world, "bob", batch_id) == {bobs["id"]}  # never alice's straggler
    assert world.api("admin").get(f"/batches/{batch_id}").json_body["batch"]["owner"] == world.ids["bob"]
    assert _batch_tasks(world, "admin", batch_id) == {bobs["id"]}
    assert world.api("alice").get(f"/batches/{batch_id}").status_code == 404
    assert world.api("alice").post("/downloads", {"url": DEAD, "batch_id": batch_id}).status_code == 409
    # Bob's whole-batch actions touch only his own downloads.
    paused = world.api("bob").post(f"/batches/{batch_id}/pause").json_body
    assert [r["task_id"] for r in paused["results"]] == [bobs["id"]]
    gone = world.api("bob").delete(f"/batches/{batch_id}").json_body
    assert [r["task_id"] for r in gone["results"]] == [bobs["id"]]
    assert svc.repo.get(straggler.id) is not None and svc.repo.get(bobs["id"]) is None
    svc.repo.delete(straggler.id)


def test_a_batch_id_must_be_one_the_batches_api_can_name(world: World) -> None:
    resp = world.api("alice").post("/downloads", {"url": DEAD, "batch_id": "a b/../c"})
    assert resp.status_code == 422 and assert_envelope(resp)["details"][0]["field"] == "batch_id"
