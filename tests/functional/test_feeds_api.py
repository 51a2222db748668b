"""The feeds REST API through Chalice's test client: the envelope, roles and isolation,
pagination headers, refresh answers, items, collect, enqueue by hand, search, bulk and the
automation switch (functions/rest/feeds.py)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from tests.support.auth import new_user
from tests.support.feedserver import Doc, Entry, FeedServer, rss2

P = "/api/v1"


class Caller:
    def __init__(self, client: Client, headers: dict[str, str]) -> None:
        self._client = client
        self.headers = headers

    def __call__(self, method: str, path: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        resp = self._client.http.request(
            method, P + path, headers={"Content-Type": "application/json", **self.headers}, body=data)
        assert resp.status_code < 500, resp.body
        resp.data = json.loads(resp.body) if resp.body else None  # type: ignore[attr-defined]
        return resp


@pytest.fixture(scope="module")
def people(emulator: str) -> dict[str, dict[str, str]]:
    return {role: new_user(role)[1] for role in ("admin", "user", "viewer")} | {"other": new_user("user")[1]}


@pytest.fixture()
def as_(svc, people, monkeypatch: pytest.MonkeyPatch) -> dict[str, Caller]:
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    client = Client(app)
    return {role: Caller(client, headers) for role, headers in people.items()}


def feed_doc(feed_server: FeedServer, names: list[str]) -> Doc:
    return Doc(body=rss2("API feed", [Entry(n, feed_server.url(f"/p/{quote(n)}"), f"g-{n}",
                                            feed_server.url(f"/f/{quote(n)}.bin"), 100) for n in names]))


def test_subscribe_list_get_patch_delete_with_roles_and_isolation(as_, feed_server) -> None:
    url = feed_server.add("/api1", feed_doc(feed_server, ["One 1080p"]))
    made = as_["user"]("POST", "/feeds", {"url": url, "name": "mine", "interval_minutes": 15,
                                          "headers": {"Cookie": "secret"}, "tags": ["tv"], "priority": "HIGH"})
    assert made.status_code == 201, made.data
    feed = made.data
    assert made.headers["Location"] == f"/api/v1/feeds/{feed['id']}"
    assert feed["headers"] == {"Cookie": "***"} and feed["status"] == "pending" and feed["priority"] == 10
    assert as_["viewer"]("POST", "/feeds", {"url": url}).status_code == 403
    assert as_["other"]("GET", f"/feeds/{feed['id']}").status_code == 404
    listed = as_["user"]("GET", "/feeds")
    assert listed.status_code == 200 and [f["id"] for f in listed.data["feeds"]] == [feed["id"]]
    assert listed.headers["X-Total-Count"] == "1" and 'rel="first"' in listed.headers["Link"]
    assert feed["id"] in [f["id"] for f in as_["admin"]("GET", "/feeds?per_page=200").data["feeds"]]
    patched = as_["user"]("PATCH", f"/feeds/{feed['id']}", {"enabled": False, "rules": [{"include": ["1080p"]}]})
    assert patched.status_code == 200 and patched.data["status"] == "disabled"
    assert patched.data["next_refresh_at"] is None and patched.data["rules"][0]["include"] == ["1080p"]
    assert patched.data["headers"] == {"Cookie": "***"}  # untouched options stay
    bad = as_["user"]("PATCH", f"/feeds/{feed['id']}", {"rules": [{"regex": True, "exclude": ["(x"]}]})
    assert bad.status_code == 422 and bad.data["error"]["details"][0]["field"] == "rules.0.exclude.0"
    assert as_["user"]("POST", "/feeds", {"url": "ftp://nope"}).data["error"]["code"] == "VALIDATION_ERROR"
    assert as_["user"]("DELETE", f"/feeds/{feed['id']}").data == {"id": feed["id"], "deleted": True}
    assert as_["user"]("GET", f"/feeds/{feed['id']}").status_code == 404


def test_refresh_items_collect_enqueue_and_search(as_, feed_server) -> None:
    url = feed_server.add("/api2", feed_doc(feed_server, ["Alpha S01E01 1080p", "Alpha S01E02 720p", "Beta 1080p"]))
    feed = as_["user"]("POST", "/feeds", {"url": url, "rules": [{"include": ["alpha 1080p"]}]}).data
    answer = as_["user"]("POST", f"/feeds/{feed['id']}/refresh").data
    assert (answer["found"], answer["new"], answer["matched"], answer["enqueued"]) == (3, 3, 1, 1)
    items = as_["user"]("GET", f"/feeds/{feed['id']}/items").data["items"]
    by_title = {i["title"]: i for i in items}
    assert by_title["Alpha S01E01 1080p"]["state"] == "enqueued"
    assert by_title["Alpha S01E01 1080p"]["download_id"] == answer["download_ids"][0]
    assert by_title["Beta 1080p"]["state"] == "excluded"
    excluded = as_["user"]("GET", f"/feeds/{feed['id']}/items?state=excluded")
    assert sorted(i["title"] for i in excluded.data["items"]) == ["Alpha S01E02 720p", "Beta 1080p"]
    # The rules change: collect enqueues every matching item once, even ones seen before.
    as_["user"]("PATCH", f"/feeds/{feed['id']}", {"rules": [{"include": ["alpha"]}]})
    collected = as_["user"]("POST", f"/feeds/{feed['id']}/collect").data
    assert (collected["matched"], collected["enqueued"]) == (1, 1)
    assert as_["user"]("POST", f"/feeds/{feed['id']}/collect").data["enqueued"] == 0
    # One by hand, whatever the rules say; once.
    beta = by_title["Beta 1080p"]["id"]
    done = as_["user"]("POST", f"/feeds/{feed['id']}/items/{beta}/enqueue")
    assert done.status_code == 200 and done.data["state"] == "enqueued" and done.data["download_id"]
    assert as_["user"]("POST", f"/feeds/{feed['id']}/items/{beta}/enqueue").status_code == 409
    assert as_["other"]("POST", f"/feeds/{feed['id']}/items/{beta}/enqueue").status_code == 404
    found = as_["user"]("GET", "/feeds/search?q=ALPHA")
    assert sorted(i["title"] for i in found.data["items"]) == ["Alpha S01E01 1080p", "Alpha S01E02 720p"]
    assert as_["other"]("GET", "/feeds/search?q=alpha").data["items"] == []
    assert as_["user"]("GET", "/feeds/search").status_code == 422


def test_refresh_all_bulk_and_analyse(as_, feed_server) -> None:
    ids = [
        as_["other"]("POST", "/feeds", {"url": feed_server.add(f"/bulk{i}", feed_doc(feed_server, [f"b{i}"]))}).data[
            "id"
        ]
        for i in range(2)
    ]
    everything = as_["other"]("POST", "/feeds/refresh").data
    assert everything["enqueued"] == 2 and {f["feed_id"] for f in everything["feeds"]} == set(ids)
    bulk = as_["other"]("POST", "/feeds/bulk", {"action": "disable", "ids": [ids[0], "missing-id"]}).data
    assert bulk["succeeded"] == 1 and bulk["failed"] == 1 and "no feed" in bulk["results"][1]["error"]
    bulk = as_["other"]("POST", "/feeds/bulk", {"action": "delete", "ids": ids}).data
    assert bulk["succeeded"] == 2
    seen = as_["user"](
        "POST",
        "/feeds/analyse",
        {"url": feed_server.add("/an", feed_doc(feed_server, ["X S03E04 720p"])), "rules": [{"include": ["1080p"]}]},
    )
    assert seen.status_code == 200 and seen.data["items"][0]["metadata"]["season"] == 3
    assert seen.data["items"][0]["verdict"] == {"matched": False, "rule": "rule 1",
                                                "reason": "no include pattern matched"}
    refused = as_["user"]("POST", "/feeds/analyse", {"url": feed_server.url("/nothing-here")})
    assert refused.status_code == 422 and "HTTP 404" in refused.data["error"]["message"]


def test_the_automation_switch_is_for_admins(as_) -> None:
    assert as_["user"]("POST", "/automation/stop").status_code == 403
    stopped = as_["admin"]("POST", "/automation/stop").data
    assert stopped["running"] is False and stopped["changed_by"]
    assert as_["viewer"]("GET", "/automation").data["running"] is False
    assert as_["admin"]("POST", "/automation/start").data["running"] is True


def test_search_pages_with_a_cursor(as_, feed_server) -> None:
    names = [f"pagetest {i}" for i in range(5)]
    feed = as_["viewer"]  # viewers read, but a user subscribes
    made = as_["user"]("POST", "/feeds", {"url": feed_server.add("/paged", feed_doc(feed_server, names)),
                                          "rules": [{"include": ["nothing"]}]}).data
    as_["user"]("POST", f"/feeds/{made['id']}/refresh")
    first = as_["user"]("GET", "/feeds/search?q=pagetest&per_page=3")
    assert len(first.data["items"]) == 3 and first.data["next_cursor"] and 'rel="next"' in first.headers["Link"]
    rest = as_["user"]("GET", f"/feeds/search?q=pagetest&per_page=3&cursor={first.data['next_cursor']}")
    titles = [i["title"] for i in first.data["items"] + rest.data["items"]]
    assert sorted(titles) == sorted(names) and rest.data["next_cursor"] is None
    assert feed("GET", "/feeds/search?q=pagetest").data["items"] == []  # the viewer has none of its own
    assert as_["user"]("GET", "/feeds/search?q=x&cursor=not-a-cursor").status_code == 422
