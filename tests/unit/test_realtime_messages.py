"""The WebSocket protocol's pure part: building, paginating and parsing messages."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest

from chalicelib.config import Config
from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.realtime import auth
from chalicelib.realtime import messages as m

LIMIT = m.MAX_MESSAGE_BYTES


def make(i: int = 0, **kw: object) -> Task:
    base: dict[str, object] = {
        "id": f"00000000-0000-4000-8000-{i:012d}", "owner": "local", "url": f"https://example.com/f{i}.bin",
        "filename": f"f{i}.bin", "key": f"downloads/{i}/f{i}.bin", "created_at": 1_700_000_000_000 + i,
        "updated_at": 1_700_000_000_000 + i,
    }
    base.update(kw)
    return Task(**base)  # type: ignore[arg-type]


def big_view(i: int) -> dict[str, object]:
    """A download as large as the API lets one be (long URL, names, tags, error, note)."""
    task = make(
        i, url="https://example.com/" + "p" * 2000 + f"/{i}", filename="n" * 200 + f"{i}.bin",
        batch_name="b" * 200, tags=[f"tag{t}" * 5 for t in range(20)], error="e" * 1000, note="o" * 300,
        headers={f"X-H{h}": "v" for h in range(32)}, size=10**12, category="c" * 100,
        # The largest metadata the API accepts (8 KB), a folder, a template and a pending move.
        metadata={"artist_names": ["a" * 290] * 20, "track_name": "t" * 300, "album_name": "l" * 300,
                  "labels": {f"l{n}": "v" * 100 for n in range(20)}},
        path="p" * 512, naming="{title}" * 70, target="k" * 1000,
    )
    return task.view()


# -- pagination ---------------------------------------------------------------------------


def test_a_snapshot_of_5000_downloads_arrives_complete_in_pages_under_128_kb() -> None:
    views = [make(i, size=1 << 30, bytes_done=i * 1000, state=TaskState.COMPLETED).view() for i in range(5000)]
    pages = m.sync_all("downloads", views, snapshot_id="s1")

    assert len(pages) > 1
    assert all(m.size_of(p) < LIMIT for p in pages)
    assert all(len(m.encode(p).encode()) < LIMIT for p in pages)  # what is really sent
    assert [p["page"] for p in pages] == list(range(1, len(pages) + 1))
    assert {p["pages"] for p in pages} == {len(pages)}
    assert [p["complete"] for p in pages] == [False] * (len(pages) - 1) + [True]
    assert {(p["type"], p["room"], p["snapshot_id"], p["total"]) for p in pages} == {
        ("SYNC_ALL", "downloads", "s1", 5000)
    }
    received = [t["id"] for p in pages for t in p["tasks"]]
    assert received == [v["id"] for v in views]  # every download, once, in order
    # Pages are full: no more pages than the bytes need (within one page of slack).
    total = sum(m.size_of(v) for v in views)
    assert len(pages) <= total // (LIMIT - 1024) + 2


def test_a_snapshot_of_the_largest_downloads_still_fits() -> None:
    views = [big_view(i) for i in range(300)]
    assert m.size_of(views[0]) > 5000
    pages = m.sync_all("batch:b1", views)
    assert all(m.size_of(p) < LIMIT for p in pages)
    assert sum(len(p["tasks"]) for p in pages) == 300
    assert pages[-1]["complete"] and len(pages) >= 12


def test_an_empty_room_is_one_complete_page() -> None:
    (page,) = m.sync_all("batch:nothing", [])
    assert page["tasks"] == [] and page["complete"] is True and page["page"] == page["pages"] == 1
    assert page["total"] == 0


def test_split_items_starts_a_new_list_when_the_next_item_would_not_fit() -> None:
    base = {"type": "X"}
    items = [{"v": "x" * 100} for _ in range(10)]
    one = m.size_of(items[0])
    limit = m.size_of({**base, "items": []}) + 256 + 3 * one + 2  # room for exactly three
    lists = m.split_items(base, "items", items, limit=limit)
    assert [len(x) for x in lists] == [3, 3, 3, 1]
    assert all(m.size_of({**base, "items": x}) <= limit - 256 for x in lists)


def test_batch_updates_split_when_many_downloads_are_active() -> None:
    entries = [m.progress_entry(make(i, state=TaskState.DOWNLOADING, size=10**9, batch_id="b" * 60).view())
               for i in range(2000)]
    updates = m.batch_updates(entries)
    assert len(updates) > 1
    assert all(u["type"] == "TASK_BATCH_UPDATE" and m.size_of(u) < LIMIT for u in updates)
    assert [e["id"] for u in updates for e in u["tasks"]] == [e["id"] for e in entries]
    assert m.batch_updates([]) == []


# -- every message: type and timestamp ----------------------------------------------------


def test_timestamps_are_iso_utc_with_milliseconds() -> None:
    assert m.timestamp(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    msg = m.pong()
    assert msg["type"] == "pong" and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", msg["timestamp"])


def test_engine_stats() -> None:
    msg = m.engine_stats({"downloading": 2, "queued": 5, "completed": 7, "failed": 1}, 1234, now_ms=0)
    assert msg == {
        "type": "ENGINE_STATS", "timestamp": "1970-01-01T00:00:00.000Z",
        "stats": {"active": 2, "queued": 5, "paused": 0, "completed": 7, "failed": 1, "cancelled": 0,
                  "total": 15, "total_speed": 1234, "active_downloads": 2},
    }


def test_error_uses_the_rest_error_envelope() -> None:
    msg = m.error("INVALID_ROOM", "unknown room", "rooms[0]", ref="a1", request_id="r1")
    assert msg["type"] == "error" and msg["ref"] == "a1"
    assert msg["error"] == {"code": "INVALID_ROOM", "message": "unknown room",
                            "details": [{"field": "rooms[0]", "message": "unknown room"}], "request_id": "r1"}


# -- changes ------------------------------------------------------------------------------


def test_an_insert_is_added_and_a_remove_is_removed() -> None:
    task = make(1, batch_id="b1")
    added = m.classify(None, task)
    assert added is not None and added.kind == m.ADDED and added.transition
    msg = m.for_change(added)
    assert msg is not None and msg["type"] == "TASK_ADDED" and msg["task"]["id"] == task.id

    removed = m.classify(task, None)
    assert removed is not None and removed.kind == m.REMOVED
    msg = m.for_change(removed)
    assert msg is not None
    assert (msg["type"], msg["task_id"], msg["batch_id"], msg["previous_state"]) == (
        "TASK_REMOVED", task.id, "b1", "queued")


def test_a_state_change_is_an_update_with_the_previous_state() -> None:
    old = make(1, state=TaskState.DOWNLOADING, size=100, bytes_done=50)
    new = replace(old, state=TaskState.COMPLETED, bytes_done=100, updated_at=old.updated_at + 5)
    change = m.classify(old, new)
    assert change is not None and change.kind == m.UPDATED and change.transition
    msg = m.for_change(change)
    assert msg is not None and msg["type"] == "TASK_UPDATED"
    assert msg["previous_state"] == "downloading" and msg["task"]["state"] == "completed"
    assert "state" in msg["changed"] and "progress" in msg["changed"]


def test_progress_alone_is_coalesced_and_other_fields_are_updates() -> None:
    old = make(1, state=TaskState.DOWNLOADING, size=1000, lane_bytes={"0": 10}, lane_speed={"0": 5})
    moved = replace(old, lane_bytes={"0": 500}, lane_speed={"0": 400}, updated_at=old.updated_at + 1000)
    change = m.classify(old, moved)
    assert change is not None and change.kind == m.PROGRESS and not change.transition
    assert m.for_change(change) is None
    entry = m.progress_entry(change.view)
    assert entry["downloaded_bytes"] == 500 and entry["speed"] == 400 and entry["state"] == "downloading"

    noted = replace(old, note="retrying in 2 s")
    change = m.classify(old, noted)
    assert change is not None and change.kind == m.UPDATED and change.previous_state is None
    msg = m.for_change(change)
    assert msg is not None and "previous_state" not in msg and msg["changed"] == ["note"]


def test_a_write_no_client_can_see_makes_no_message() -> None:
    old = make(1, state=TaskState.DOWNLOADING)
    assert m.classify(old, replace(old, heartbeat=99, updated_at=old.updated_at + 1)) is None
    assert m.classify(None, None) is None


def test_notifications_for_completed_and_failed_downloads_only() -> None:
    running = make(1, state=TaskState.DOWNLOADING, size=3 * 1024 * 1024)
    done = m.classify(running, replace(running, state=TaskState.COMPLETED))
    failed = m.classify(running, replace(running, state=TaskState.FAILED, error="the origin said 404"))
    paused = m.classify(running, replace(running, state=TaskState.PAUSED))
    assert done is not None and failed is not None and paused is not None
    ok = m.notification(done)
    bad = m.notification(failed)
    assert ok is not None and ok["type"] == "notification" and ok["data"]["level"] == "success"
    assert "3.0 MiB" in ok["data"]["message"]
    assert bad is not None and bad["data"]["level"] == "error" and "404" in bad["data"]["message"]
    assert m.notification(paused) is None
    line = m.log_line(failed)
    assert line is not None and line["data"]["level"] == "ERROR" and "downloading -> failed" in line["data"]["message"]


# -- client messages ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "action", "rooms", "ref"),
    [
        ('{"action": "ping", "id": 7}', "ping", (), 7),
        ('{"type": "PING"}', "ping", (), None),
        ('{"action": "subscribe", "rooms": ["downloads", "Stats", "batch:b-1", "download:t1"]}', "subscribe",
         ("downloads", "stats", "batch:b-1", "download:t1"), None),
        ('{"action": "subscribe", "room": "logs", "id": "x"}', "subscribe", ("logs",), "x"),
        ('{"action": "join", "data": {"room": "downloads"}}', "subscribe", ("downloads",), None),
        ('{"action": "leave", "data": {"room": "downloads"}}', "unsubscribe", ("downloads",), None),
        ('{"action": "get_downloads"}', "subscribe", ("downloads",), None),
        ('{"action": "sync"}', "sync", (), None),
        ('{"action": "sync", "rooms": ["batch:b"]}', "sync", ("batch:b",), None),
        ('{"action": "subscribe", "rooms": ["downloads", "downloads"]}', "subscribe", ("downloads",), None),
    ],
)
def test_client_messages(body: str, action: str, rooms: tuple[str, ...], ref: object) -> None:
    assert m.parse_command(body) == m.Command(action, rooms, ref)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (None, "BAD_MESSAGE", None),
        ("", "BAD_MESSAGE", None),
        ("{nope", "BAD_MESSAGE", None),
        ("[1, 2]", "BAD_MESSAGE", None),
        ('"ping"', "BAD_MESSAGE", None),
        ("{}", "BAD_MESSAGE", "action"),
        ('{"action": 5}', "BAD_MESSAGE", "action"),
        ('{"action": "explode"}', "UNKNOWN_ACTION", "action"),
        ('{"action": "subscribe"}', "BAD_MESSAGE", "rooms"),
        ('{"action": "subscribe", "rooms": "downloads"}', "BAD_MESSAGE", "rooms"),
        ('{"action": "subscribe", "rooms": ["kitchen"]}', "INVALID_ROOM", "rooms[0]"),
        ('{"action": "subscribe", "rooms": ["downloads", "batch:"]}', "INVALID_ROOM", "rooms[1]"),
        ('{"action": "subscribe", "rooms": ["download:a b"]}', "INVALID_ROOM", "rooms[0]"),
        ('{"action": "subscribe", "rooms": [42]}', "INVALID_ROOM", "rooms[0]"),
        ('{"action": "ping", "id": {"a": 1}}', "BAD_MESSAGE", "id"),
        (json.dumps({"action": "subscribe", "rooms": [f"batch:{i}" for i in range(101)]}), "BAD_MESSAGE", "rooms"),
        (json.dumps({"action": "ping", "pad": "x" * 40000}), "MESSAGE_TOO_LARGE", None),
        ("[" * 100000, "MESSAGE_TOO_LARGE", None),
        ("[" * 5000 + "]" * 5000, "BAD_MESSAGE", None),
    ],
)
def test_malformed_client_messages_are_errors(body: str | None, code: str, field: str | None) -> None:
    with pytest.raises(m.BadMessage) as caught:
        m.parse_command(body)
    assert caught.value.code == code
    assert caught.value.field == field


def test_task_rooms() -> None:
    assert m.task_rooms("t1", None) == ["downloads", "download:t1"]
    assert m.task_rooms("t1", "b1") == ["downloads", "download:t1", "batch:b1"]
    assert m.is_task_room("batch:x") and not m.is_task_room("stats")


# -- authentication at connect ------------------------------------------------------------


def test_local_and_test_stages_accept_anonymous_connections_deployed_ones_do_not() -> None:
    assert not Config.from_env({"HAUL_STAGE": "local"}).ws_anonymous  # accounts exist: local connections log in
    assert Config.from_env({"HAUL_STAGE": "test"}).ws_anonymous
    prod = Config.from_env({"HAUL_STAGE": "prod"})
    assert not prod.ws_anonymous
    assert auth.authenticate(None, prod) is None
    assert auth.authenticate("", prod) is None
    assert auth.authenticate("some.jwt.token", prod) is None  # not a token that verifies
    local = auth.authenticate(None, Config.from_env({"HAUL_STAGE": "test"}))
    assert local == auth.Identity("local", anonymous=True)


def test_the_token_seam_for_accounts() -> None:
    prod = Config.from_env({"HAUL_STAGE": "prod"})
    auth.set_token_verifier(lambda token: auth.Identity("alice", roles=("user",)) if token == "good" else None)
    try:
        assert auth.authenticate("good", prod) == auth.Identity("alice", False, ("user",))
        assert auth.authenticate("bad", prod) is None
        # A token that does not verify is refused even where anonymous connections are allowed.
        assert auth.authenticate("bad", Config.from_env({"HAUL_STAGE": "local"})) is None
    finally:
        auth.set_token_verifier(auth.DEFAULT_VERIFIER)


def test_metadata_reaches_clients_in_task_messages() -> None:
    old = make(1)
    new = make(1, metadata={"tmdb_id": 1396, "title": "Breaking Bad", "season": 1, "episode": 2})
    change = m.classify(old, new)
    assert change is not None and "metadata" in change.changed
    assert m.task_updated(change)["task"]["metadata"] == {"tmdb_id": 1396, "title": "Breaking Bad", "season": 1,
                                                          "episode": 2}
    added = m.classify(None, new)
    assert added is not None and m.task_added(added)["task"]["metadata"]["title"] == "Breaking Bad"
