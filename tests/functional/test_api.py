"""The REST API under /api/v1, driven through the real Chalice app against the emulator.

Every response goes through :meth:`Api.call`, which fails the test on any 5xx, on any body
that carries a Python traceback, and on any error that is not the one envelope.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from chalice.test import Client

from tests.support.auth import new_user
from tests.support.engine import wipe_tasks
from tests.support.origin import Origin, Resource
from tests.support.wait import wait_for

P = "/api/v1"
MiB = 1024 * 1024
# Chalice's own answers (unknown route, wrong method, media type) are not ours to shape.
CHALICE_OWN = {403, 405, 415}


class Api:
    """Calls as one user (``headers``); ``admin`` calls as an admin, for the engine's settings."""

    def __init__(self, client: Client, headers: dict[str, str] | None = None, admin: Api | None = None) -> None:
        self._http = client.http
        self.headers = headers or {}
        self.admin = admin or self

    def call(
        self, method: str, path: str, body: Any = None, raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json", **self.headers, **(headers or {})}
        resp = self._http.request(method.upper(), P + path, headers=hdrs, body=data)
        text = resp.body.decode("utf-8", "replace")
        # The one 5xx allowed: 503 in the envelope when a store did not answer (nothing was done).
        assert resp.status_code < 500 or (resp.status_code == 503 and '"UNAVAILABLE"' in text), \
            f"{method} {path} -> {resp.status_code}: {text}"
        assert "Traceback" not in text and 'File "' not in text, text
        if resp.status_code >= 400 and resp.status_code not in CHALICE_OWN:
            assert_envelope(resp)
        return resp

    def get(self, path: str, **kw: Any) -> Any:
        return self.call("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.call("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.call("DELETE", path, **kw)

    # -- helpers --------------------------------------------------------------------------
    def add(self, url: str, **fields: Any) -> dict[str, Any]:
        # These tests add one URL many times on purpose (duplicates: tests/functional/test_bulk.py).
        resp = self.post("/downloads", {"url": url, "allow_duplicate": True, **fields})
        assert resp.status_code == 201, resp.body
        return dict(resp.json_body)

    def view(self, task_id: str) -> dict[str, Any]:
        resp = self.get(f"/downloads/{task_id}")
        assert resp.status_code == 200, resp.body
        return dict(resp.json_body)

    def wait_state(self, task_id: str, *states: str, timeout: float = 30.0) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            view = self.view(task_id)
            return view if view["state"] in states else None

        return wait_for(probe, timeout, what=f"{task_id} to be {'/'.join(states)}")

    def settings(self, **changes: Any) -> dict[str, Any]:
        resp = self.admin.patch("/settings", changes)
        assert resp.status_code == 200, resp.body
        return dict(resp.json_body)


def assert_envelope(resp: Any) -> dict[str, Any]:
    assert resp.headers.get("Content-Type") == "application/json"
    body = resp.json_body
    assert isinstance(body, dict) and set(body) == {"error"}, resp.body
    error = body["error"]
    assert set(error) == {"code", "message", "details", "request_id"}
    assert isinstance(error["code"], str) and error["code"].isupper()
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert set(detail) == {"field", "message"}
    assert error["request_id"] and error["request_id"] == resp.headers.get("X-Request-Id")
    return dict(error)


def error_of(resp: Any, status: int, code: str) -> dict[str, Any]:
    assert resp.status_code == status, resp.body
    error = assert_envelope(resp)
    assert error["code"] == code
    return error


def fields_of(resp: Any) -> dict[str, str]:
    error = error_of(resp, 422, "VALIDATION_ERROR")
    fields = {d["field"]: d["message"] for d in error["details"]}
    assert error["details"][0]["field"] in error["message"]  # the summary names the (first) field too
    return fields


@pytest.fixture(autouse=True)
def clean(svc) -> Iterator[None]:
    """No tasks from other tests: they would take slots and show up in lists."""
    wipe_tasks()
    yield
    wipe_tasks()


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, dict[str, str]]:
    """An admin and a user for the module (the REST API needs credentials, tests/functional/test_auth.py)."""
    return {role: new_user(role)[1] for role in ("admin", "user")}


@pytest.fixture()
def api(svc, people: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> Api:
    from app import app

    # These tests send more than a minute's worth of requests as one user; the limit has its own tests.
    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    client = Client(app)
    return Api(client, people["user"], Api(client, people["admin"]))


# A URL nobody serves: without workers a task just waits in "downloading" (phase "starting").
DEAD = "http://127.0.0.1:9/file.bin"


def fetch(url: str) -> requests.Response:
    assert url.startswith("http://127.0.0.1:"), url  # the presigned URL points at the emulator
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text[:500]
    return resp


# -- health and errors ---------------------------------------------------------------------


def test_health(api: Api) -> None:
    resp = api.get("/health")
    assert resp.status_code == 200
    assert resp.json_body["status"] == "ok"
    assert resp.json_body["stage"] == "test"
    assert resp.json_body["version"]
    assert "websocket_url" in resp.json_body  # null: the functional tests' stage has no WebSocket endpoint
    assert resp.headers["X-Request-Id"]


def test_unknown_download_is_a_404_envelope(api: Api) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    for resp in (
        api.get(f"/downloads/{missing}"),
        api.patch(f"/downloads/{missing}", {"priority": "HIGH"}),
        api.delete(f"/downloads/{missing}"),
        api.delete(f"/downloads/{missing}?delete_file=true"),
        api.get(f"/downloads/{missing}/file"),
        *(api.post(f"/downloads/{missing}/{action}") for action in ("pause", "resume", "retry", "cancel")),
    ):
        error = error_of(resp, 404, "NOT_FOUND")
        assert missing in error["message"]


def test_every_answer_says_its_server_time(api: Api) -> None:
    """Server-Timing (W3C): auth, handler and total in ms, on answers and errors alike; the
    bench's admission case reports total's p50/p95 (the item's "server time")."""
    entry = re.compile(r"^(auth|handler|total);dur=(\d+\.\d)$")
    for resp in (api.get("/health"), api.get("/downloads/nope"), api.post("/downloads", {"url": DEAD})):
        found = [entry.match(part.strip()) for part in resp.headers["Server-Timing"].split(",")]
        durs = {m.group(1): float(m.group(2)) for m in found if m}
        assert list(durs) == ["auth", "handler", "total"], resp.headers["Server-Timing"]
        assert durs["total"] >= durs["handler"]


def test_request_ids_differ_per_request(api: Api) -> None:
    ids = {api.get("/downloads/nope").json_body["error"]["request_id"] for _ in range(3)}
    assert len(ids) == 3


# -- adding --------------------------------------------------------------------------------


def test_add_answers_201_with_the_task_and_its_location(api: Api) -> None:
    resp = api.post("/downloads", {
        "url": DEAD, "filename": "../../etc/passwd", "priority": "HIGH",
        "headers": {"Authorization": "Bearer secret-token"}, "checksum": "sha256:" + "AB" * 32,
        "category": "iso", "tags": ["linux"],
    })
    assert resp.status_code == 201, resp.body
    task = resp.json_body
    assert resp.headers["Location"] == f"{P}/downloads/{task['id']}"
    assert task["state"] in ("queued", "downloading")
    assert task["filename"] == "passwd"
    assert task["key"] == f"downloads/{task['id']}/passwd"
    assert (task["priority"], task["priority_value"]) == ("HIGH", 10)
    assert task["checksum"] == "sha256:" + "ab" * 32
    assert (task["category"], task["tags"]) == ("iso", ["linux"])
    assert task["header_names"] == ["Authorization"]
    assert b"secret-token" not in resp.body
    assert task["created_at"].endswith("Z")
    assert api.view(task["id"])["id"] == task["id"]
    assert api.get(resp.headers["Location"].removeprefix(P)).status_code == 200


def test_add_takes_the_filename_from_the_url(api: Api) -> None:
    task = api.add("http://127.0.0.1:9/dir/caf%C3%A9%20menu.pdf?sig=abc")
    assert task["filename"] == "café menu.pdf"
    assert task["priority"] == "NORMAL"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://example.com/file.iso"}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "http://[::1/x"}, "url"),
        ({"url": "http://127.0.0.1:99999/x"}, "url"),
        ({}, "url"),
        ({"url": DEAD, "speed": 5}, "speed"),
        ({"url": DEAD, "checksum": "sha256:1234"}, "checksum"),
        ({"url": DEAD, "checksum": "crc32:deadbeef"}, "checksum"),
        ({"url": DEAD, "priority": "URGENT"}, "priority"),
        ({"url": DEAD, "priority": 1000}, "priority"),
        ({"url": DEAD, "headers": {"Range": "bytes=0-"}}, "headers"),
        ({"url": DEAD, "headers": {"Host": "evil"}}, "headers"),
        ({"url": DEAD, "headers": {"X-Evil": "a\r\nInjected: 1"}}, "headers"),
        ({"url": DEAD, "filename": ""}, "filename"),
        ({"url": DEAD, "tags": "x"}, "tags"),
        ({"url": DEAD, "batch_name": "nightly\nInjected: 1"}, "batch_name"),  # as POST /batches refuses it
        ({"url": DEAD, "batch_name": "bell\x07"}, "batch_name"),
        ({"url": DEAD, "category": "a\x1b[31mred"}, "category"),
        ({"url": DEAD, "tags": ["ok", "line\nbreak"]}, "tags.1"),
        ([{"url": DEAD}], "body"),
        ("http://example.com/x", "body"),
    ],
)
def test_add_validation_errors_name_the_field(api: Api, body: Any, field: str) -> None:
    fields = fields_of(api.post("/downloads", body))
    assert field in fields, fields


def test_add_reports_every_bad_field(api: Api) -> None:
    fields = fields_of(api.post("/downloads", {"url": "ftp://x/y", "priority": "x", "checksum": "y", "z": 1}))
    assert set(fields) == {"url", "priority", "checksum", "z"}
    assert fields["z"] == "is not a known field"


@pytest.mark.parametrize(
    "raw", [b'{"url": ', b"not json", b"{'url': 'x'}", b"\xff\xfe\x00", b"[" * 100_000, b'{"a": 1}}']
)
def test_invalid_json_is_a_400_envelope(api: Api, raw: bytes) -> None:
    error = error_of(api.call("POST", "/downloads", raw=raw), 400, "BAD_REQUEST")
    assert "JSON" in error["message"]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/x", "http://localhost:8080/x", "http://169.254.169.254/latest/meta-data/",
     "http://10.0.0.1/x", "http://[::1]/x", "http://0.0.0.0/x"],
)
def test_private_addresses_are_refused_where_the_stage_forbids_them(
    api: Api, svc, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setattr(svc.downloads.guard, "allow_private", False)
    fields = fields_of(api.post("/downloads", {"url": url}))
    assert "not a public address" in fields["url"]
    assert api.get("/downloads").json_body["total"] == 0


def test_the_emulator_is_never_an_origin(api: Api) -> None:
    """Issue #11, item 6: private networks are allowed here, yet nobody lists or reads the bucket
    through the AWS emulator's own port."""
    import os
    from urllib.parse import urlsplit

    port = urlsplit(os.environ["AWS_ENDPOINT_URL"]).port
    for url in (f"http://127.0.0.1:{port}/haul-test-bucket?list-type=2", f"http://localhost:{port}/haul-test-bucket/x"):
        fields = fields_of(api.post("/downloads", {"url": url}))
        assert "own services" in fields["url"], fields
    assert api.get("/downloads").json_body["total"] == 0


def test_a_body_over_the_limit_is_a_413_envelope(api: Api) -> None:
    raw = json.dumps({"url": DEAD, "category": "x" * (300 * 1024)}).encode()
    error_of(api.call("POST", "/downloads", raw=raw), 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    "ctype", ["application/json; charset=utf-8", "text/plain", "application/x-www-form-urlencoded"]
)
def test_json_is_read_whatever_the_client_calls_it(api: Api, ctype: str) -> None:
    resp = api.call("POST", "/downloads", raw=json.dumps({"url": DEAD}).encode(), headers={"Content-Type": ctype})
    assert resp.status_code == 201, resp.body


# -- listing -------------------------------------------------------------------------------


def test_list_filters_paginates_and_counts(api: Api) -> None:
    api.settings(max_concurrent_downloads=1)
    ids = [api.add(DEAD, filename=f"f{i}.bin")["id"] for i in range(5)]
    states = {i: api.view(i)["state"] for i in ids}
    assert sorted(states.values()) == ["downloading"] + ["queued"] * 4

    resp = api.get("/downloads")
    body = resp.json_body
    assert resp.headers["X-Total-Count"] == "5"
    assert (body["total"], body["page"], body["per_page"], body["pages"]) == (5, 1, 50, 1)
    assert {t["id"] for t in body["tasks"]} == set(ids)
    created = [t["created_at"] for t in body["tasks"]]
    assert created == sorted(created, reverse=True)  # newest first

    queued = api.get("/downloads?status=queued")
    assert queued.headers["X-Total-Count"] == "4"
    assert {t["state"] for t in queued.json_body["tasks"]} == {"queued"}
    assert api.get("/downloads?status=downloading").json_body["total"] == 1
    done = api.get("/downloads?status=completed")
    assert (done.json_body["total"], done.json_body["tasks"], done.json_body["pages"]) == (0, [], 0)
    assert done.headers["X-Total-Count"] == "0"

    pages = [api.get(f"/downloads?per_page=2&page={n}").json_body for n in (1, 2, 3, 4)]
    assert [len(p["tasks"]) for p in pages] == [2, 2, 1, 0]
    assert all(p["total"] == 5 and p["pages"] == 3 and p["per_page"] == 2 for p in pages)
    seen = [t["id"] for p in pages for t in p["tasks"]]
    assert sorted(seen) == sorted(ids)  # every task once, none twice

    # Cursor paging walks the same pages.
    first = api.get("/downloads?per_page=2").json_body
    assert first["next_cursor"]
    second = api.get(f"/downloads?per_page=2&cursor={quote(first['next_cursor'])}").json_body
    assert [t["id"] for t in second["tasks"]] == [t["id"] for t in pages[1]["tasks"]]

    q_first = api.get("/downloads?status=queued&per_page=3").json_body
    q_rest = api.get(f"/downloads?status=queued&per_page=3&cursor={quote(q_first['next_cursor'])}").json_body
    assert {t["id"] for t in q_first["tasks"] + q_rest["tasks"]} == {i for i, s in states.items() if s == "queued"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=done", "status"),
        ("status=QUEUED", "status"),
        ("page=0", "page"),
        ("page=abc", "page"),
        ("per_page=0", "per_page"),
        ("per_page=501", "per_page"),
        ("sort=name", "sort"),
        ("cursor=garbage", "cursor"),
        ("cursor=" + base64.urlsafe_b64encode(b"[1, 2]").decode(), "cursor"),
        ("cursor=" + base64.urlsafe_b64encode(json.dumps({"id": {"S": "x"}}).encode()).decode(), "cursor"),
        (
            "cursor=" + base64.urlsafe_b64encode(json.dumps(
                {"id": {"S": "x"}, "owner": {"S": "someone-else"}, "created_key": {"S": "1#x"}}
            ).encode()).decode(),
            "cursor",
        ),
        (
            "cursor=" + base64.urlsafe_b64encode(json.dumps(
                {"id": {"N": "1"}, "owner": {"S": "local"}, "created_key": {"S": "1#x"}}
            ).encode()).decode(),
            "cursor",
        ),
    ],
)
def test_bad_list_queries_name_the_parameter(api: Api, query: str, field: str) -> None:
    fields = fields_of(api.get(f"/downloads?{query}"))
    assert list(fields) == [field]


def test_a_cursor_is_only_good_for_the_list_it_came_from(api: Api) -> None:
    api.settings(max_concurrent_downloads=1)
    for _ in range(3):
        api.add(DEAD)
    cursor = api.get("/downloads?status=queued&per_page=1").json_body["next_cursor"]
    assert cursor
    assert list(fields_of(api.get(f"/downloads?per_page=1&cursor={quote(cursor)}"))) == ["cursor"]
    assert list(fields_of(api.get(f"/downloads?status=paused&cursor={quote(cursor)}"))) == ["cursor"]
    assert api.get(f"/downloads?status=queued&per_page=1&cursor={quote(cursor)}").status_code == 200


# -- editing -------------------------------------------------------------------------------


def test_patch_priority_and_filename_before_the_transfer_starts(api: Api) -> None:
    task = api.add(DEAD, filename="before.bin")
    tid = task["id"]

    resp = api.patch(f"/downloads/{tid}", {"priority": "high"})
    assert resp.status_code == 200 and resp.json_body["priority"] == "HIGH"
    assert api.patch(f"/downloads/{tid}", {"priority": -50}).json_body["priority_value"] == -50
    assert api.view(tid)["priority"] == "LOW"

    renamed = api.patch(f"/downloads/{tid}", {"filename": "../after.bin"}).json_body
    assert renamed["filename"] == "after.bin"
    assert renamed["key"] == f"downloads/{tid}/after.bin"
    assert api.view(tid)["filename"] == "after.bin"

    unchanged = api.patch(f"/downloads/{tid}", {})
    assert unchanged.status_code == 200 and unchanged.json_body["filename"] == "after.bin"

    assert list(fields_of(api.patch(f"/downloads/{tid}", {"priority": "max"}))) == ["priority"]
    assert list(fields_of(api.patch(f"/downloads/{tid}", {"priority": 101}))) == ["priority"]
    assert list(fields_of(api.patch(f"/downloads/{tid}", {"filename": ""}))) == ["filename"]
    assert list(fields_of(api.patch(f"/downloads/{tid}", {"state": "paused"}))) == ["state"]
    assert list(fields_of(api.patch(f"/downloads/{tid}", [1]))) == ["body"]
    error_of(api.call("PATCH", f"/downloads/{tid}", raw=b"{nope"), 400, "BAD_REQUEST")
    assert api.view(tid)["priority_value"] == -50  # refused edits changed nothing


def test_priority_decides_which_queued_task_starts_next(api: Api) -> None:
    api.settings(max_concurrent_downloads=1)
    running = api.add(DEAD)
    assert running["state"] == "downloading"
    normal = api.add(DEAD)
    later = api.add(DEAD)
    assert normal["state"] == later["state"] == "queued"
    api.patch(f"/downloads/{later['id']}", {"priority": "HIGH"})

    assert api.post(f"/downloads/{running['id']}/cancel").json_body["state"] == "cancelled"
    assert api.view(later["id"])["state"] == "downloading"  # the high-priority one jumped the queue
    assert api.view(normal["id"])["state"] == "queued"


# -- actions -------------------------------------------------------------------------------


def conflict(api: Api, task_id: str, action: str, state: str) -> None:
    error = error_of(api.post(f"/downloads/{task_id}/{action}"), 409, "CONFLICT")
    assert error["message"].startswith(f"cannot {action} a task that is {state}: only "), error["message"]


def test_actions_from_valid_and_invalid_states(api: Api) -> None:
    tid = api.add(DEAD)["id"]
    assert api.view(tid)["state"] == "downloading"
    conflict(api, tid, "resume", "downloading")
    conflict(api, tid, "retry", "downloading")

    paused = api.post(f"/downloads/{tid}/pause")
    assert paused.status_code == 200 and paused.json_body["state"] == "paused"
    assert (paused.json_body["speed"], paused.json_body["eta"]) == (0, None)
    conflict(api, tid, "pause", "paused")
    conflict(api, tid, "retry", "paused")

    resumed = api.post(f"/downloads/{tid}/resume")
    assert resumed.status_code == 200 and resumed.json_body["state"] == "queued"
    assert api.view(tid)["state"] == "downloading"  # there was room: it started again

    assert api.post(f"/downloads/{tid}/pause").json_body["state"] == "paused"
    cancelled = api.post(f"/downloads/{tid}/cancel")
    assert cancelled.status_code == 200 and cancelled.json_body["state"] == "cancelled"
    assert cancelled.json_body["finished_at"]
    for action in ("pause", "resume", "cancel"):
        conflict(api, tid, action, "cancelled")

    retried = api.post(f"/downloads/{tid}/retry")
    assert retried.status_code == 200 and retried.json_body["state"] == "queued"
    assert retried.json_body["finished_at"] is None
    assert api.view(tid)["state"] == "downloading"
    assert api.post(f"/downloads/{tid}/cancel").json_body["state"] == "cancelled"


def test_a_queued_task_can_be_paused_and_cancelled(api: Api) -> None:
    api.settings(max_concurrent_downloads=1)
    api.add(DEAD)
    first, second = api.add(DEAD)["id"], api.add(DEAD)["id"]
    for tid in (first, second):
        assert api.view(tid)["state"] == "queued"
        conflict(api, tid, "resume", "queued")
        conflict(api, tid, "retry", "queued")
    assert api.post(f"/downloads/{first}/pause").json_body["state"] == "paused"
    assert api.post(f"/downloads/{second}/cancel").json_body["state"] == "cancelled"
    # Resuming with no room leaves it waiting in the queue.
    assert api.post(f"/downloads/{first}/resume").json_body["state"] == "queued"
    assert api.view(first)["state"] == "queued"


def test_unknown_action_is_not_a_5xx(api: Api) -> None:
    tid = api.add(DEAD)["id"]
    assert api.post(f"/downloads/{tid}/explode").status_code in (403, 404)


# -- deleting ------------------------------------------------------------------------------


def test_delete_an_active_download(api: Api) -> None:
    tid = api.add(DEAD)["id"]
    assert list(fields_of(api.delete(f"/downloads/{tid}?delete_file=maybe"))) == ["delete_file"]
    assert list(fields_of(api.delete(f"/downloads/{tid}?force=1"))) == ["force"]
    resp = api.delete(f"/downloads/{tid}")
    assert resp.status_code == 200
    assert resp.json_body == {"id": tid, "deleted": True, "file_deleted": False}
    error_of(api.get(f"/downloads/{tid}"), 404, "NOT_FOUND")
    error_of(api.delete(f"/downloads/{tid}"), 404, "NOT_FOUND")
    assert api.get("/downloads").json_body["total"] == 0


def test_the_file_of_an_unfinished_download_is_a_409(api: Api) -> None:
    tid = api.add(DEAD)["id"]
    error = error_of(api.get(f"/downloads/{tid}/file"), 409, "CONFLICT")
    assert "downloading" in error["message"]


# -- real transfers ------------------------------------------------------------------------


def test_a_completed_download_end_to_end(api: Api, svc, workers, origin: Origin) -> None:
    api.settings(part_size=5 * MiB, parallel_parts=2)
    data = os.urandom(6 * MiB + 123)
    origin.add("/get", Resource(
        data=data, content_type="application/x-test",
        content_disposition="attachment; filename=\"fallback.bin\"; filename*=UTF-8''r%C3%A9sum%C3%A9.bin",
    ))
    kept = api.add(origin.url("/get"))
    dropped = api.add(origin.url("/get"), filename="dropped.bin")
    task = api.wait_state(kept["id"], "completed", "failed")
    assert task["state"] == "completed", task["error"]
    assert api.wait_state(dropped["id"], "completed", "failed")["state"] == "completed"

    assert task["filename"] == "résumé.bin"  # from filename*, not the plain fallback
    assert task["progress"] == 100.0
    assert task["downloaded_bytes"] == task["total_bytes"] == len(data)
    assert (task["speed"], task["eta"], task["error"], task["phase"]) == (0, None, None, None)
    assert (task["parts_total"], task["parts_done"], task["part_size"]) == (2, 2, 5 * MiB)
    assert task["content_type"] == "application/x-test"
    assert task["resumable"] is True
    assert task["created_at"] <= task["started_at"] <= task["finished_at"]

    resp = api.get(f"/downloads/{task['id']}/file")
    assert resp.status_code == 302
    location = resp.headers["Location"]
    assert fetch(location).content == data
    # S3 names the file from the signed response-content-disposition (moto ignores it, so
    # the URL is checked rather than the emulator's answer).
    signed = parse_qs(urlsplit(location).query)["response-content-disposition"]
    assert signed == ["attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.bin"]

    listed = api.get("/downloads?status=completed").json_body
    assert {t["id"] for t in listed["tasks"]} == {kept["id"], dropped["id"]}

    # Renamed after completion: the stored object moves (tests/functional/test_metadata_api.py).
    renamed = api.patch(f"/downloads/{task['id']}", {"filename": "late.bin"})
    assert renamed.json_body["key"] == f"downloads/{task['id']}/late.bin"
    assert svc.store.size(task["key"]) is None
    task = renamed.json_body
    assert api.patch(f"/downloads/{task['id']}", {"priority": "LOW"}).status_code == 200
    for action in ("pause", "resume", "retry", "cancel"):
        conflict(api, task["id"], action, "completed")

    # Deleting the task keeps the file unless asked otherwise.
    assert api.delete(f"/downloads/{kept['id']}").json_body["file_deleted"] is False
    assert svc.store.size(task["key"]) == len(data)
    assert api.delete(f"/downloads/{dropped['id']}?delete_file=true").json_body["file_deleted"] is True
    assert svc.store.size(f"downloads/{dropped['id']}/dropped.bin") is None
    assert api.get("/downloads").json_body["total"] == 0


def test_a_failed_download_shows_why_and_can_be_retried(api: Api, workers, origin: Origin) -> None:
    task = api.add(origin.url("/later.bin"))
    failed = api.wait_state(task["id"], "failed", "completed")
    assert failed["state"] == "failed"
    assert "404" in failed["error"]
    assert failed["finished_at"] and failed["speed"] == 0
    for action in ("pause", "resume", "cancel"):
        conflict(api, task["id"], action, "failed")
    assert api.get("/downloads?status=failed").json_body["total"] == 1

    data = os.urandom(MiB + 7)
    origin.add("/later.bin", Resource(data=data))
    retried = api.post(f"/downloads/{task['id']}/retry")
    assert retried.status_code == 200 and retried.json_body["state"] == "queued"
    assert retried.json_body["error"] is None
    done = api.wait_state(task["id"], "completed", "failed")
    assert done["state"] == "completed", done["error"]
    assert done["error"] is None
    assert fetch(api.get(f"/downloads/{task['id']}/file").headers["Location"]).content == data


def test_progress_speed_and_eta_while_downloading_then_pause_and_resume(api: Api, workers, origin: Origin) -> None:
    api.settings(part_size=8 * MiB, parallel_parts=2)
    data = os.urandom(8 * MiB + 1024)
    res = origin.add("/slow.bin", Resource(data=data, throttle_bps=2 * MiB))
    tid = api.add(origin.url("/slow.bin"))["id"]

    # A lane reports its progress about once a second; the 8 MiB part takes about four.
    live = wait_for(
        lambda: (v := api.view(tid))["state"] == "downloading" and v["speed"] > 0 and v, 30,
        what="a speed to show",
    )
    assert live["total_bytes"] == len(data)
    assert 0 < live["downloaded_bytes"] < len(data)
    assert 0 < live["progress"] < 100
    assert live["eta"] is not None and live["eta"] >= 0
    assert live["started_at"] and live["finished_at"] is None
    assert live["phase"] == "transferring"

    # Renamed mid-transfer: it goes on into its key, and moves to the new one once stored.
    renamed = api.patch(f"/downloads/{tid}", {"filename": "x.bin"}).json_body
    assert (renamed["key"], renamed["target"]) == (live["key"], f"downloads/{tid}/x.bin")

    paused = api.post(f"/downloads/{tid}/pause").json_body
    assert paused["state"] == "paused"
    assert (paused["speed"], paused["eta"]) == (0, None)
    res.throttle_bps = None
    assert api.post(f"/downloads/{tid}/resume").status_code == 200
    done = api.wait_state(tid, "completed", "failed")
    assert done["state"] == "completed", done["error"]
    assert (done["key"], done["target"], done["filename"]) == (f"downloads/{tid}/x.bin", None, "x.bin")
    resp = api.get(f"/downloads/{tid}/file")
    assert resp.status_code == 302, (resp.status_code, resp.headers, resp.body, api.view(tid))
    assert fetch(resp.headers["Location"]).content == data


# -- settings ------------------------------------------------------------------------------


def test_settings_read_and_update(api: Api) -> None:
    current = api.get("/settings").json_body
    assert current["queue"]["max_concurrent_downloads"] == 3
    assert current["transfer"]["part_size"] == 16 * MiB
    updated = api.settings(max_concurrent_downloads=5, retry_base_seconds=2)  # the flat names still work
    assert updated["queue"]["max_concurrent_downloads"] == 5 and updated["retry"]["base_seconds"] == 2.0
    assert updated["version"] == current["version"] + 1
    assert api.get("/settings").json_body == updated


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"parallel_parts": 0}', "parallel_parts"),
        (b'{"part_size": 1024}', "part_size"),
        (b'{"max_concurrent_downloads": 2.5}', "max_concurrent_downloads"),
        (b'{"max_concurrent_downloads": "5"}', "max_concurrent_downloads"),
        (b'{"max_concurrent_downloads": true}', "max_concurrent_downloads"),
        (b'{"max_concurrent_downloads": null}', "max_concurrent_downloads"),
        (b'{"presign_seconds": 1' + b"0" * 400 + b"}", "presign_seconds"),
        (b'{"retry_base_seconds": 1' + b"0" * 400 + b"}", "retry_base_seconds"),
        (b'{"retry_base_seconds": NaN}', "retry_base_seconds"),
        (b'{"retry_cap_seconds": Infinity}', "retry_cap_seconds"),
        (b'{"retry_base_seconds": 10, "retry_cap_seconds": 5}', "retry_cap_seconds"),
        (b'{"turbo": 1}', "turbo"),
        (b"[]", "body"),
        (b"", "body"),
        (b'"x"', "body"),
    ],
)
def test_invalid_settings_name_the_field(api: Api, raw: bytes, field: str) -> None:
    before = api.get("/settings").json_body
    fields = fields_of(api.admin.call("PATCH", "/settings", raw=raw))
    assert field in fields, fields
    assert api.get("/settings").json_body == before


def test_settings_invalid_json_is_a_400(api: Api) -> None:
    error_of(api.admin.call("PATCH", "/settings", raw=b"{"), 400, "BAD_REQUEST")


# -- nothing a client sends makes the API fail ----------------------------------------------

ODD_VALUES: list[Any] = [
    None, True, 0, -1, 2**63, 10**30, 1.5, float("1e308"), "", " ", "x" * 5000, "\x00", "\u202e", "😀",
    [], [None], {}, {"a": {"b": [1, {"c": None}]}}, "../../etc/passwd", "http://[::1", "http://x:0/",
]


def test_odd_input_never_gets_a_5xx(api: Api) -> None:
    tid = api.add(DEAD)["id"]
    fields = ["url", "filename", "priority", "headers", "checksum", "tags", "category", "batch_id", "batch_name"]
    for value in ODD_VALUES:
        for name in fields:
            api.post("/downloads", {"url": DEAD, name: value} if name != "url" else {"url": value})
        api.patch(f"/downloads/{tid}", {"priority": value})
        api.patch(f"/downloads/{tid}", {"filename": value})
        api.admin.patch("/settings", {"parallel_parts": value})
        api.post("/downloads", value)
        api.admin.patch("/settings", value)
    for query in ["page=1e3", "per_page=-0", "status=%00", "page=" + "9" * 5000, "cursor=" + "A" * 3000,
                  "cursor=%E2%82%AC", "status=queued&status=paused", "page=", "delete_file=1"]:
        api.get(f"/downloads?{query}")
    for path in [f"/downloads/{'x' * 2000}", "/downloads/%2e%2e", "/downloads/%00", f"/downloads/{tid}/file/x"]:
        api.get(path)
        api.delete(path)
    api.delete(f"/downloads/{tid}?delete_file=" + "1" * 1000)
