"""The downloads list over HTTP (the real Chalice app, the emulator): filters, sort, cursors,
X-Total-Count and Link, forged cursors, and who sees what (chalicelib/downloads/listing.py).

Tasks are written straight through the repository (states and times chosen by the test), so
no worker and no dispatcher is involved; filenames carry a token unique to the test, so the
admin's all-owner list can be narrowed to them with ``q``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from chalice.test import Client

from tests.functional.test_api import Api, assert_envelope, fields_of
from tests.support.auth import new_user

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z


class People:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.ids: dict[str, str] = {}
        self.headers: dict[str, dict[str, str]] = {}
        for who, role in (("admin", "admin"), ("alice", "user"), ("bob", "user")):
            self.ids[who], self.headers[who], _ = new_user(role)

    def api(self, who: str) -> Api:
        return Api(self.client, self.headers[who])


@pytest.fixture(scope="module")
def people(emulator: str) -> People:
    from app import app

    return People(Client(app))


@pytest.fixture()
def svc_nolimit(svc, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    return svc


def make(svc: Any, owner: str, name: str, state: str, created: int, **fields: Any) -> str:
    from chalicelib.domain.states import TaskState
    from chalicelib.domain.task import Task

    task_id = str(uuid.uuid4())
    url = fields.pop("url", f"https://files.example.com/{name}")
    svc.repo.create(Task(
        id=task_id, owner=owner, url=url, filename=name, key=f"downloads/{task_id}/{name}",
        state=TaskState(state), order=fields.pop("order", created * 1000), created_at=created, updated_at=created,
        **fields,
    ))
    return task_id


class Fixture:
    """Alice's 12 downloads and Bob's 3, each with a name holding this test's token."""

    def __init__(self, svc: Any, people: People) -> None:
        self.token = uuid.uuid4().hex[:10]
        self.batch = str(uuid.uuid4())
        self.ids: dict[str, str] = {}
        alice, bob = people.ids["alice"], people.ids["bob"]
        specs: list[tuple[str, str, int, dict[str, Any]]] = [
            # name, state, minute, extra
            ("a00-Movie.MKV", "completed", 0, {"category": "movies", "tags": ["hd", "x"]}),
            ("a01-show.mkv", "completed", 1, {"category": "tv", "tags": ["x"], "batch_id": self.batch}),
            ("a02-song.mp3", "failed", 2, {"category": "music"}),
            ("a03-movie2.mkv", "paused", 3, {"category": "movies", "tags": ["hd"], "priority": 10}),
            ("a04-show.mkv", "paused", 4, {"category": "tv", "batch_id": self.batch, "priority": -10}),
            ("a05-doc.pdf", "cancelled", 5, {}),
            ("a06-movie3.mkv", "completed", 6, {"category": "movies", "batch_id": self.batch}),
            ("a07-song.flac", "failed", 7, {"category": "music", "tags": ["lossless"]}),
            ("a08-show.mkv", "paused", 8, {"category": "tv", "priority": 10}),
            ("a09-image.iso", "completed", 9, {"url": "https://Mirror.Example.org/ISO/a09-image.iso"}),
            ("a10-movie4.mkv", "paused", 10, {"category": "movies"}),
            ("a11-show.mkv", "completed", 11, {"category": "tv", "tags": ["hd"]}),
        ]
        for name, state, minute, extra in specs:
            self.ids[name] = make(svc, alice, f"{self.token}-{name}", state, T0 + minute * 60_000, **extra)
        for i in range(3):
            name = f"b0{i}-bob.mkv"
            extra = {"batch_id": self.batch} if i == 0 else {}
            self.ids[name] = make(svc, bob, f"{self.token}-{name}", "completed", T0 + (20 + i) * 60_000, **extra)
        self.specs = specs

    def names(self, tasks: list[dict[str, Any]]) -> list[str]:
        return [t["filename"].split("-", 1)[1] for t in tasks]

    def alice(self, keep: Any = lambda spec: True) -> list[str]:
        """Alice's names that ``keep`` keeps, newest first."""
        return [name for name, *rest in reversed(self.specs) if keep((name, *rest))]


@pytest.fixture()
def fx(svc_nolimit, people: People) -> Iterator[Fixture]:
    fixture = Fixture(svc_nolimit, people)
    yield fixture
    for task_id in fixture.ids.values():
        svc_nolimit.repo.delete(task_id)


def links(resp: Any) -> dict[str, str]:
    return {rel: url for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', resp.headers.get("Link", ""))}


def walk(api: Api, path: str) -> tuple[list[dict[str, Any]], list[Any]]:
    """Every page of a list, following Link rel="next" from ``path``."""
    tasks, answers = [], []
    url: str | None = path
    while url:
        resp = api.get(url)
        assert resp.status_code == 200, resp.body
        answers.append(resp)
        tasks += resp.json_body["tasks"]
        nxt = links(resp).get("next")
        url = None if nxt is None else nxt.split("/api/v1", 1)[1]
        assert len(answers) < 100
    return tasks, answers


# -- filters and sort ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("", lambda s: True),
        ("status=paused", lambda s: s[1] == "paused"),
        ("status=failed,cancelled", lambda s: s[1] in ("failed", "cancelled")),
        ("category=movies", lambda s: s[3].get("category") == "movies"),
        ("tag=hd", lambda s: "hd" in s[3].get("tags", [])),
        ("q=MOVIE", lambda s: "movie" in s[0].lower()),
        ("q=mirror.example.org/iso", lambda s: s[0] == "a09-image.iso"),
        ("status=completed&category=tv", lambda s: s[1] == "completed" and s[3].get("category") == "tv"),
        ("status=paused,completed&tag=hd&q=mkv", lambda s: s[1] in ("paused", "completed")
         and "hd" in s[3].get("tags", [])),
        (f"created_from={T0 + 3 * 60_000}&created_to={T0 + 6 * 60_000}", lambda s: 3 <= s[2] <= 6),
        ("created_from=2023-11-14T22:21:20Z", lambda s: s[2] >= 8),
        ("created_to=2023-11-14T22:14:20.000+00:00&status=completed", lambda s: s[2] <= 1 and s[1] == "completed"),
        (f"status=paused&created_from={T0 + 4 * 60_000}", lambda s: s[1] == "paused" and s[2] >= 4),
    ],
)
def test_filters_answer_exactly_the_matching_downloads_with_their_total(
    fx: Fixture, people: People, query: str, keep: Any
) -> None:
    want = fx.alice(keep)
    assert want or query.startswith("status=completed&category")
    resp = people.api("alice").get(f"/downloads?per_page=100&{query}")
    assert resp.status_code == 200, resp.body
    assert fx.names(resp.json_body["tasks"]) == want
    assert resp.json_body["total"] == len(want) and resp.headers["X-Total-Count"] == str(len(want))
    # Two at a time, following the links: the same downloads, in the same order.
    tasks, answers = walk(people.api("alice"), f"/downloads?per_page=2&{query}")
    assert fx.names(tasks) == want
    assert all(a.headers["X-Total-Count"] == str(len(want)) for a in answers)
    assert [a.json_body["page"] for a in answers] == list(range(1, len(answers) + 1))


def test_batch_filter_and_sorts(fx: Fixture, people: People) -> None:
    alice = people.api("alice")
    in_batch = fx.alice(lambda s: s[3].get("batch_id") == fx.batch)
    body = alice.get(f"/downloads?batch_id={fx.batch}").json_body
    assert fx.names(body["tasks"]) == in_batch and body["total"] == 3  # Bob's item is not Alice's
    oldest = alice.get(f"/downloads?batch_id={fx.batch}&sort=created_at").json_body
    assert fx.names(oldest["tasks"]) == in_batch[::-1]
    assert fx.names(alice.get(f"/downloads?batch_id={fx.batch}&status=paused").json_body["tasks"]) == ["a04-show.mkv"]

    asc = alice.get("/downloads?sort=created_at&per_page=100").json_body["tasks"]
    assert fx.names(asc) == fx.alice()[::-1]
    # sort=queue: dispatch order, priority first, then queue order (earliest first).
    queue = alice.get("/downloads?sort=queue&status=paused").json_body
    assert fx.names(queue["tasks"]) == ["a03-movie2.mkv", "a08-show.mkv", "a10-movie4.mkv", "a04-show.mkv"]
    assert queue["total"] == 4
    whole, _ = walk(alice, "/downloads?sort=queue&per_page=5")
    assert [t["priority_value"] for t in whole] == sorted((t["priority_value"] for t in whole), reverse=True)
    assert len(whole) == 12


def test_page_numbers_and_the_last_page(fx: Fixture, people: People) -> None:
    alice = people.api("alice")
    everything = fx.alice()
    pages = [alice.get(f"/downloads?per_page=5&page={n}").json_body for n in (1, 2, 3, 4)]
    assert [fx.names(p["tasks"]) for p in pages] == [everything[:5], everything[5:10], everything[10:], []]
    assert all(p["pages"] == 3 and p["total"] == 12 for p in pages)
    filtered = [alice.get(f"/downloads?per_page=2&q=mkv&page={n}").json_body for n in (1, 2, 3, 4)]
    mkv = fx.alice(lambda s: "mkv" in s[0].lower())
    assert [t for p in filtered for t in fx.names(p["tasks"])] == mkv  # 8: the last page is read backwards


def test_link_headers_are_absolute_and_keep_the_other_parameters(fx: Fixture, people: People) -> None:
    alice = people.api("alice")
    resp = alice.get("/downloads?per_page=1&page=2&category=movies&sort=created_at",
                     headers={"Host": "haul.example.net", "X-Forwarded-Proto": "https"})
    got = links(resp)
    assert set(got) == {"first", "prev", "next", "last"}
    for url in got.values():
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc, parts.path) == ("https", "haul.example.net", "/api/v1/downloads"), url
        params = parse_qs(parts.query)
        assert params["category"] == ["movies"] and params["sort"] == ["created_at"] and params["per_page"] == ["1"]
    assert parse_qs(urlsplit(got["first"]).query)["page"] == ["1"]
    assert parse_qs(urlsplit(got["prev"]).query)["page"] == ["1"]
    assert parse_qs(urlsplit(got["last"]).query)["page"] == ["4"]  # 4 movies, 1 a page
    assert "cursor" not in parse_qs(urlsplit(got["last"]).query)
    nxt = parse_qs(urlsplit(got["next"]).query)
    assert nxt["page"] == ["3"] and nxt["cursor"] == [resp.json_body["next_cursor"]]
    # The last page has no next.
    last = alice.get(f"/downloads?{urlsplit(got['last']).query}")
    assert "next" not in links(last) and last.json_body["next_cursor"] is None
    assert len(last.json_body["tasks"]) == 1


# -- cursors ------------------------------------------------------------------------------


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_forged_and_foreign_cursors_are_refused_by_name(fx: Fixture, people: People) -> None:
    alice, bob = people.api("alice"), people.api("bob")
    cursor = alice.get("/downloads?per_page=2&status=paused").json_body["next_cursor"]
    raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    assert alice.get(f"/downloads?per_page=2&status=paused&cursor={quote(cursor)}").status_code == 200
    forged = [
        "garbage", _b64([1, 2]), _b64({"id": {"S": "x"}}),
        _b64({**raw, "g": "0" * 16}),  # another list's signature
        _b64({**raw, "s": 3}),  # a partition the list does not have
        _b64({**raw, "k": {**raw["k"], "owner_state": {"S": f"{people.ids['bob']}#paused"}}}),  # another owner
        _b64({**raw, "k": {**raw["k"], "id": {"N": "1"}}}),
        _b64({**raw, "k": {"id": raw["k"]["id"]}}),
        _b64({**raw, "t": -5}),
        _b64({**raw, "s": True}),
    ]
    for bad in forged:
        assert list(fields_of(alice.get(f"/downloads?per_page=2&status=paused&cursor={quote(bad)}"))) == ["cursor"]
    # Another filter's cursor, or another user's.
    for query in ("status=completed", "", "status=paused&q=mkv", "status=paused&sort=created_at"):
        assert list(fields_of(alice.get(f"/downloads?per_page=2&{query}&cursor={quote(cursor)}"))) == ["cursor"]
    assert list(fields_of(bob.get(f"/downloads?per_page=2&status=paused&cursor={quote(cursor)}"))) == ["cursor"]


@pytest.mark.parametrize(
    ("query", "field"),
    [("status=paused,nope", "status"), ("status=", "status"), ("sort=name", "sort"), ("q=", "q"),
     ("q=" + "x" * 201, "q"), ("created_from=yesterday", "created_from"), ("created_to=-1", "created_to"),
     ("created_from=2024-02-01&created_to=2024-01-01", "created_to"), ("tag=" + "t" * 51, "tag"),
     ("batch_id=" + "b" * 65, "batch_id"), ("per_page=501", "per_page"), ("color=red", "color")],
)
def test_bad_list_parameters_name_the_parameter(people: People, svc_nolimit: Any, query: str, field: str) -> None:
    assert list(fields_of(people.api("alice").get(f"/downloads?{query}"))) == [field]


# -- who sees what ----------------------------------------------------------------------------


def test_a_user_never_sees_another_users_downloads_through_a_filter(fx: Fixture, people: People) -> None:
    bob = people.api("bob")
    mine = bob.get(f"/downloads?batch_id={fx.batch}").json_body
    assert fx.names(mine["tasks"]) == ["b00-bob.mkv"] and mine["total"] == 1
    assert bob.get(f"/downloads?q={fx.token}").json_body["total"] == 3
    for query in (f"owner={people.ids['alice']}", f"owner={people.ids['alice']}&batch_id={fx.batch}"):
        resp = bob.get(f"/downloads?{query}")
        assert resp.status_code == 403 and assert_envelope(resp)["code"] == "FORBIDDEN"


def test_an_admin_lists_every_owner_with_filters(fx: Fixture, people: People) -> None:
    admin = people.api("admin")
    mine = f"q={fx.token}"
    every = admin.get(f"/downloads?{mine}&per_page=100").json_body
    assert fx.names(every["tasks"]) == ["b02-bob.mkv", "b01-bob.mkv", "b00-bob.mkv", *fx.alice()]
    assert every["total"] == 15
    tasks, answers = walk(admin, f"/downloads?{mine}&per_page=4")
    assert fx.names(tasks) == fx.names(every["tasks"]) and len(answers) == 4
    batch = admin.get(f"/downloads?batch_id={fx.batch}").json_body
    assert set(fx.names(batch["tasks"])) == {"b00-bob.mkv", "a01-show.mkv", "a04-show.mkv", "a06-movie3.mkv"}
    paused = admin.get(f"/downloads?{mine}&status=paused&per_page=3").json_body
    # Every owner's downloads of a state come in dispatch order (the by-state index).
    assert fx.names(paused["tasks"]) == ["a03-movie2.mkv", "a08-show.mkv", "a10-movie4.mkv"]
    assert paused["total"] == 4 and paused["next_cursor"]
    alices = admin.get(f"/downloads?owner={people.ids['alice']}&category=movies").json_body
    assert alices["total"] == 4
    window = admin.get(f"/downloads?{mine}&created_from={T0 + 10 * 60_000}&created_to={T0 + 21 * 60_000}").json_body
    assert fx.names(window["tasks"]) == ["b01-bob.mkv", "b00-bob.mkv", "a11-show.mkv", "a10-movie4.mkv"]


def test_totals_come_from_the_counters_when_there_are_some(
    fx: Fixture, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.container import services

    asked: list[str] = []

    def fake(scope: str) -> dict[str, int]:
        asked.append(scope)
        return {"paused": 40, "completed": 60}

    monkeypatch.setattr(services().downloads, "gauge", fake)
    alice = people.api("alice")
    assert alice.get("/downloads?per_page=5").headers["X-Total-Count"] == "100"
    assert alice.get("/downloads?per_page=2&status=paused").headers["X-Total-Count"] == "40"
    assert asked == [f"u#{people.ids['alice']}"] * 2
    # A first page that is the whole list is its own exact total, whatever the counters say.
    assert alice.get("/downloads?status=paused").headers["X-Total-Count"] == "4"
    # Other filters count (the counters do not know categories).
    assert alice.get("/downloads?per_page=2&category=tv").headers["X-Total-Count"] == "4"
    assert len(asked) == 3
