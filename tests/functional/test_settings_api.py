"""The settings API: nested get/patch, validate without applying, versions, history and restore."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.persistence.models import ActivityModel
from chalicelib.persistence.settings import DynamoSettingsVersions
from chalicelib.settings.store import EngineSettings, SettingsStore, nested
from tests.support.auth import new_user

P = "/api/v1"
MiB = 1024 * 1024
SECTIONS = {"queue", "transfer", "retry", "files", "history", "security"}


class Caller:
    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self._client = client
        self.headers = headers

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        resp = self._client.http.request(
            method, P + path, headers={"Content-Type": "application/json", **self.headers}, body=data
        )
        assert resp.status_code < 500, resp.body
        return resp


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, tuple[str, dict[str, str]]]:
    out = {}
    for role in ("admin", "user", "viewer"):
        _, headers, grant = new_user(role)
        out[role] = (grant["user"]["username"], headers)
    return out


@pytest.fixture()
def as_(svc, people, monkeypatch: pytest.MonkeyPatch):
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    client = Client(app)
    return {role: Caller(client, headers) for role, (_, headers) in people.items()}


def fields_of(resp: Any) -> dict[str, str]:
    assert resp.status_code == 422, resp.body
    return {d["field"]: d["message"] for d in resp.json_body["error"]["details"]}


def activity(kind: str) -> list[ActivityModel]:
    return [a for a in ActivityModel.query("system") if a.kind == kind]


# -- get and patch -------------------------------------------------------------------------


def test_get_answers_the_sections_with_a_version(as_: dict[str, Caller]) -> None:
    for role in ("viewer", "user", "admin"):
        resp = as_[role].call("GET", "/settings")
        assert resp.status_code == 200
    doc = resp.json_body
    assert set(doc) == {"version", "updated_at", "updated_by"} | SECTIONS
    assert doc["version"] == 0 and doc["updated_at"] is None
    assert {k: doc[k] for k in SECTIONS} == nested(EngineSettings())


def test_patch_changes_only_what_it_names(as_: dict[str, Caller], people) -> None:
    admin = as_["admin"]
    resp = admin.call("PATCH", "/settings", {"transfer": {"part_size": 8 * MiB, "speed_limit": 1 << 20},
                                             "queue": {"per_host_connections": 4}})
    assert resp.status_code == 200, resp.body
    doc = resp.json_body
    assert doc["version"] == 1 and doc["updated_by"] == people["admin"][0] and doc["updated_at"]
    assert doc["transfer"] == {"parallel_parts": 8, "part_size": 8 * MiB, "speed_limit": 1 << 20}
    assert doc["queue"] == {**nested(EngineSettings())["queue"], "per_host_connections": 4}
    assert doc["retry"] == nested(EngineSettings())["retry"]
    assert admin.call("GET", "/settings").json_body == doc
    # Flat names, as older clients send them, are the same settings.
    flat = admin.call("PATCH", "/settings", {"part_size": 6 * MiB}).json_body
    assert flat["transfer"]["part_size"] == 6 * MiB and flat["version"] == 2
    # The engine sees it at once in this process (and within 2 s in every other).
    assert admin.call("GET", "/settings").json_body["transfer"]["part_size"] == 6 * MiB


def test_a_patch_that_changes_nothing_makes_no_version(as_: dict[str, Caller]) -> None:
    admin = as_["admin"]
    first = admin.call("PATCH", "/settings", {"retry": {"max_attempts": 3}}).json_body
    again = admin.call("PATCH", "/settings", {"retry": {"max_attempts": 3}}).json_body
    assert again == first
    assert admin.call("PATCH", "/settings", {}).json_body == first


def test_only_admins_change_settings(as_: dict[str, Caller]) -> None:
    for role in ("viewer", "user"):
        resp = as_[role].call("PATCH", "/settings", {"queue": {"max_concurrent_downloads": 5}})
        assert resp.status_code == 403
        assert as_[role].call("POST", "/settings/history/0/restore").status_code == 403
    assert as_["admin"].call("GET", "/settings").json_body["version"] == 0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"transfer": {"part_size": 1024}}, {"transfer.part_size"}),
        ({"transfer": {"part_size": "big"}}, {"transfer.part_size"}),
        ({"queue": {"max_concurrent_downloads": 0}, "retry": {"max_attempts": 1000}},
         {"queue.max_concurrent_downloads", "retry.max_attempts"}),
        ({"queue": {"bogus": 1}}, {"queue.bogus"}),
        ({"network": {"x": 1}}, {"network"}),
        ({"transfer": 5}, {"transfer"}),
        ({"retry": {"base_seconds": 500}}, {"retry.cap_seconds"}),
        ({"history": {"retention_days": -1}, "transfer": {"speed_limit": 10}},
         {"history.retention_days", "transfer.speed_limit"}),
        ({"part_size": 1}, {"part_size"}),
        ({"part_size": 6 * MiB, "transfer": {"part_size": 7 * MiB}}, {"transfer.part_size"}),
        ([1, 2], {"body"}),
    ],
)
def test_invalid_changes_name_each_field_and_change_nothing(
    as_: dict[str, Caller], body: Any, expected: set[str]
) -> None:
    admin = as_["admin"]
    before = admin.call("GET", "/settings").json_body
    assert set(fields_of(admin.call("PATCH", "/settings", body))) == expected
    assert admin.call("GET", "/settings").json_body == before
    # Validation says the same, with 200, and applies nothing either.
    answer = admin.call("POST", "/settings/validate", body)
    assert answer.status_code == 200
    assert answer.json_body["valid"] is False
    assert {e["field"] for e in answer.json_body["errors"]} == expected
    assert admin.call("GET", "/settings").json_body == before


def test_validate_shows_the_settings_it_would_make(as_: dict[str, Caller]) -> None:
    viewer = as_["viewer"]
    answer = viewer.call(
        "POST", "/settings/validate", {"transfer": {"parallel_parts": 2}, "files": {"presign_seconds": 60}}
    )
    assert answer.status_code == 200, answer.body
    body = answer.json_body
    assert body["valid"] is True and body["errors"] == []
    assert body["settings"]["transfer"]["parallel_parts"] == 2
    assert body["settings"]["files"]["presign_seconds"] == 60
    assert body["settings"]["version"] == 0  # checked against version 0; nothing stored
    current = viewer.call("GET", "/settings").json_body
    assert current["transfer"]["parallel_parts"] == 8 and current["version"] == 0
    # A partly wrong change shows the well-typed part merged and names the rest.
    mixed = viewer.call("POST", "/settings/validate", {"transfer": {"parallel_parts": 4, "part_size": "x"}}).json_body
    assert mixed["valid"] is False and mixed["settings"]["transfer"]["parallel_parts"] == 4
    assert [e["field"] for e in mixed["errors"]] == ["transfer.part_size"]


# -- history and restore -------------------------------------------------------------------


def make_versions(admin: Caller) -> list[dict[str, Any]]:
    return [
        admin.call("PATCH", "/settings", body).json_body
        for body in (
            {"queue": {"max_concurrent_downloads": 5}},
            {"transfer": {"part_size": 8 * MiB}, "retry": {"max_attempts": 2}},
            {"queue": {"max_concurrent_downloads": 7}},
        )
    ]


def test_history_lists_every_version_newest_first(as_: dict[str, Caller], people) -> None:
    admin = as_["admin"]
    make_versions(admin)
    first = as_["viewer"].call("GET", "/settings/history?per_page=2")
    assert first.status_code == 200, first.body
    assert first.headers["X-Total-Count"] == "4"
    assert 'rel="next"' in first.headers["Link"]
    page = first.json_body
    assert [v["version"] for v in page["versions"]] == [3, 2]
    assert page["total"] == 4 and page["pages"] == 2 and page["next_cursor"] == "1"
    newest = page["versions"][0]
    assert newest["changes"] == {"queue.max_concurrent_downloads": [5, 7]}
    assert newest["settings"]["queue"]["max_concurrent_downloads"] == 7
    assert newest["updated_by"] == people["admin"][0] and newest["restored_from"] is None
    assert page["versions"][1]["changes"] == {"transfer.part_size": [16 * MiB, 8 * MiB], "retry.max_attempts": [6, 2]}
    rest = as_["viewer"].call("GET", f"/settings/history?per_page=2&page=2&cursor={page['next_cursor']}").json_body
    assert [v["version"] for v in rest["versions"]] == [1, 0] and rest["next_cursor"] is None
    assert rest["versions"][1]["settings"] == nested(EngineSettings()) and rest["versions"][1]["changes"] == {}
    # page/per_page alone reach the same page.
    assert as_["viewer"].call("GET", "/settings/history?per_page=2&page=2").json_body["versions"] == rest["versions"]
    one = as_["viewer"].call("GET", "/settings/history/2")
    assert one.status_code == 200 and one.json_body == page["versions"][1]
    for missing in ("9", "x", "-1"):
        assert as_["viewer"].call("GET", f"/settings/history/{missing}").status_code == 404


def test_before_any_change_the_history_is_version_0(as_: dict[str, Caller]) -> None:
    page = as_["viewer"].call("GET", "/settings/history").json_body
    assert [v["version"] for v in page["versions"]] == [0] and page["total"] == 1


def test_restore_makes_a_new_version_equal_to_the_old_one(as_: dict[str, Caller], people) -> None:
    admin = as_["admin"]
    made = make_versions(admin)
    resp = admin.call("POST", "/settings/history/1/restore")
    assert resp.status_code == 200, resp.body
    doc = resp.json_body
    assert doc["version"] == 4
    assert {k: doc[k] for k in SECTIONS} == {k: made[0][k] for k in SECTIONS}
    entry = admin.call("GET", "/settings/history/4").json_body
    assert entry["restored_from"] == 1
    assert entry["changes"] == {
        "queue.max_concurrent_downloads": [7, 5],
        "transfer.part_size": [8 * MiB, 16 * MiB],
        "retry.max_attempts": [2, 6],
    }
    # Back to the defaults: version 0.
    zero = admin.call("POST", "/settings/history/0/restore").json_body
    assert zero["version"] == 5 and {k: zero[k] for k in SECTIONS} == nested(EngineSettings())
    assert admin.call("POST", "/settings/history/42/restore").status_code == 404
    restores = activity("settings.restore")
    assert restores and restores[-1].actor == people["admin"][0]


def test_changes_are_recorded_in_the_activity_log(as_: dict[str, Caller], people) -> None:
    before = len(activity("settings.update"))
    as_["admin"].call("PATCH", "/settings", {"files": {"presign_seconds": 120}})
    entries = activity("settings.update")
    assert len(entries) == before + 1
    entry = entries[-1]
    assert entry.actor == people["admin"][0]
    assert entry.data == {"files.presign_seconds": [3600, 120]}
    assert "files.presign_seconds" in entry.message


# -- concurrent changes ---------------------------------------------------------------------


def test_concurrent_changes_each_get_their_own_version(svc) -> None:
    changes = [
        {"queue": {"max_concurrent_downloads": 9}},
        {"transfer": {"parallel_parts": 3}},
        {"transfer": {"part_size": 7 * MiB}},
        {"retry": {"max_attempts": 4}},
        {"files": {"presign_seconds": 77}},
        {"history": {"retention_days": 3}},
    ]
    barrier = threading.Barrier(len(changes))
    made: list[int] = []
    errors: list[BaseException] = []

    def change(body: dict[str, Any]) -> None:
        store = SettingsStore(DynamoSettingsVersions())  # like separate Lambda sandboxes: no shared cache
        barrier.wait()
        try:
            made.append(store.change(body, "racer").version)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(body,)) for body in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(made) == list(range(1, len(changes) + 1))
    final = SettingsStore(DynamoSettingsVersions()).current()
    assert final.version == len(changes)
    s = final.settings
    assert (s.max_concurrent_downloads, s.parallel_parts, s.part_size, s.retry_max_attempts, s.presign_seconds,
            s.history_retention_days) == (9, 3, 7 * MiB, 4, 77, 3)
    # Every version changed exactly one setting: none overwrote another's change.
    history = SettingsStore(DynamoSettingsVersions()).versions(range(len(changes), 0, -1))
    assert [len(v.changes) for v in history] == [1] * len(changes)


def test_a_change_that_keeps_losing_the_race_is_a_409(as_: dict[str, Caller], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DynamoSettingsVersions, "add_next", lambda self, now, made: False)
    resp = as_["admin"].call("PATCH", "/settings", {"queue": {"max_concurrent_downloads": 4}})
    assert resp.status_code == 409 and resp.json_body["error"]["code"] == "CONFLICT"
