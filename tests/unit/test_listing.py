"""Query planning for the downloads list and the activity log, cursors, and Link headers:
pure functions, no I/O (chalicelib/downloads/listing.py, chalicelib/activity/log.py, functions/rest/http.py)."""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import pytest

from chalicelib.activity import log as activity
from chalicelib.api.schemas import parse
from chalicelib.domain.states import TaskState
from chalicelib.downloads import listing
from chalicelib.downloads.schemas import ListQuery

ME, OTHER = "u-me", "u-other"


def q(**params: Any) -> ListQuery:
    return parse(ListQuery, {k: str(v) for k, v in params.items()}, "query")


def attrs(p: listing.Plan) -> list[tuple[str, str]]:
    return [(f.attr, f.op) for f in p.filters]


def test_the_plain_list_is_the_owners_index_newest_first() -> None:
    p = listing.plan(q(), ME, False)
    assert (p.index, p.partitions, p.forward, p.key_range, p.filters) == ("by-owner", (ME,), False, None, ())
    assert p.counter == (f"u#{ME}", ())
    assert listing.plan(q(sort="created_at"), ME, False).forward is True


def test_one_state_is_the_owner_state_index_and_many_are_a_filter() -> None:
    one = listing.plan(q(status="paused"), ME, False)
    assert (one.index, one.partitions, one.counter) == (
        "by-owner-state",
        (f"{ME}#paused",),
        (f"u#{ME}", (TaskState.PAUSED,)),
    )
    many = listing.plan(q(status="failed,cancelled"), ME, False)
    assert many.index == "by-owner" and attrs(many) == [("state", "in")] and many.counter is None
    assert many.filters[0].value == ("failed", "cancelled")


def test_batch_sort_and_filters() -> None:
    p = listing.plan(q(batch_id="b1", status="paused", category="tv", tag="hd", q="Movie"), ME, False)
    assert (p.index, p.partitions) == ("by-batch", ("b1",))
    assert attrs(p) == [("owner", "eq"), ("state", "in"), ("category", "eq"), ("tags", "contains"),
                        ("search", "contains")]
    assert p.filters[0].value == ME and p.filters[-1].value == "movie"
    admin = listing.plan(q(batch_id="b1"), ME, True)
    assert admin.filters == ()  # an admin sees every owner's tasks of the batch
    queue = listing.plan(q(sort="queue", status="paused"), ME, False)
    assert (queue.index, queue.forward, attrs(queue)) == ("by-owner-rank", True, [("state", "in")])
    assert queue.counter == (f"u#{ME}", (TaskState.PAUSED,))


def test_a_created_range_is_a_key_condition_where_the_range_key_is_created_key() -> None:
    p = listing.plan(q(created_from=1000, created_to=2000), ME, False)
    assert p.key_range == ("0000000001000", "0000000002000#~") and p.filters == () and p.counter is None
    s = listing.plan(q(created_from=1000, status="queued"), ME, False)
    assert s.index == "by-owner-state" and s.key_range == ("0000000001000", "9999999999999#~")
    r = listing.plan(q(created_to=2000, sort="queue"), ME, False)
    assert r.key_range is None and attrs(r) == [("created_key", "between")]


def test_an_admin_lists_every_owner_on_keys_only_indexes() -> None:
    p = listing.plan(q(), ME, True)
    assert (p.index, p.partitions, p.keys_only, p.counter) == ("by-created", ("task",), True, ("all", ()))
    s = listing.plan(q(status="completed,queued"), ME, True)
    assert (s.index, s.partitions) == ("by-state", ("queued", "completed"))  # in dispatch order
    assert listing.plan(q(sort="queue"), ME, True).partitions == tuple(t.value for t in TaskState)
    own = listing.plan(q(owner=OTHER), ME, True)
    assert (own.index, own.partitions) == ("by-owner", (OTHER,))
    with pytest.raises(listing.Refused):
        listing.plan(q(owner=OTHER), ME, False)
    assert listing.plan(q(owner=ME), ME, False).partitions == (ME,)


def test_filters_hold_the_same_way_on_fetched_items() -> None:
    item = SimpleNamespace(state="paused", tags=["hd", "x"], search="movie.mkv https://e/movie.mkv", category=None,
                           created_key="0000000001500#id")
    assert listing.Filter("state", "in", ("paused", "failed")).holds(item)
    assert listing.Filter("tags", "contains", "hd").holds(item)
    assert not listing.Filter("tags", "contains", "h").holds(item)
    assert listing.Filter("search", "contains", "e/movie").holds(item)
    assert not listing.Filter("category", "eq", "tv").holds(item)
    assert not listing.Filter("category", "contains", "tv").holds(item)
    assert listing.Filter("created_key", "between", ("0000000001000", "0000000002000#~")).holds(item)


def _raw(p: listing.Plan, **changes: Any) -> str:
    key = {"id": {"S": "t1"}, "owner_state": {"S": p.partitions[0]}, "created_key": {"S": "0000000001000#t1"}}
    value = {"v": 1, "g": p.signature, "s": 0, "k": key, **changes}
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()


def test_cursors_round_trip_and_only_for_their_list() -> None:
    p = listing.plan(q(status="paused"), ME, False)
    key = {"id": {"S": "t1"}, "owner_state": {"S": f"{ME}#paused"}, "created_key": {"S": "0000000001000#t1"}}
    cursor = listing.Cursor(0, key, 7).encode(p)
    assert listing.decode_cursor(cursor, p) == listing.Cursor(0, key, 7)
    for other in (q(status="queued"), q(status="paused", sort="created_at"), q(status="paused", q="x"), q()):
        with pytest.raises(listing.BadCursor):
            listing.decode_cursor(cursor, listing.plan(other, ME, False))
    with pytest.raises(listing.BadCursor):
        listing.decode_cursor(cursor, listing.plan(q(status="paused"), OTHER, False))
    assert listing.decode_cursor(_raw(p), p).total is None
    for bad in (_raw(p, s=1), _raw(p, s="0"), _raw(p, t=-1), _raw(p, t=True), _raw(p, v=2), _raw(p, k=[]),
                _raw(p, k={"id": {"S": "t1"}}), _raw(p, k={**key, "owner_state": {"S": f"{OTHER}#paused"}}),
                _raw(p, k={**key, "id": {"N": "1"}}), "%%%", "", base64.urlsafe_b64encode(b"[1]").decode()):
        with pytest.raises(listing.BadCursor):
            listing.decode_cursor(bad, p)


def test_the_activity_log_plans() -> None:
    now = 1_700_000_000_000
    mine = activity.plan_query(activity.ActivityQuery(level="warning", kind="task"), ME, False, now)
    assert (mine.index, mine.partitions, mine.levels, mine.kind) == (None, (f"u#{ME}",), ("warning", "error"), "task")
    task = activity.plan_query(activity.ActivityQuery(task_id="t1"), ME, False, now)
    assert (task.index, task.partitions, task.scope) == ("by-task", ("t1",), f"u#{ME}")
    assert activity.plan_query(activity.ActivityQuery(task_id="t1"), ME, True, now).scope is None
    every = activity.plan_query(activity.ActivityQuery(), ME, True, now)
    assert every.index == "by-day" and len(every.partitions) == 7 and every.partitions[0] == "2023-11-14"
    ranged = activity.plan_query(activity.ActivityQuery(since=now - 2 * 86_400_000, until=now), ME, True, now)
    assert ranged.partitions == ("2023-11-14", "2023-11-13", "2023-11-12")
    assert ranged.sk_range == (f"{now - 2 * 86_400_000:013d}", f"{now:013d}#~")
    with pytest.raises(PermissionError):
        activity.plan_query(activity.ActivityQuery(owner=OTHER), ME, False, now)
    assert activity.plan_query(activity.ActivityQuery(level="debug"), ME, False, now).levels is None


def _record(name: str, old: dict[str, Any] | None, new: dict[str, Any] | None, event: str = "e1") -> dict[str, Any]:
    def img(values: dict[str, Any] | None) -> dict[str, Any] | None:
        if values is None:
            return None
        return {k: ({"N": str(v)} if isinstance(v, int) else {"S": v}) for k, v in values.items()}

    data: dict[str, Any] = {"ApproximateCreationDateTime": 1_700_000_000.5}
    if old is not None:
        data["OldImage"] = img(old)
    if new is not None:
        data["NewImage"] = img(new)
    return {"eventID": event, "eventName": name, "dynamodb": data}


def _entry(record: dict[str, Any]) -> Any:
    return activity.transition_entry(record, lambda *args: args)


def test_stream_records_to_entries() -> None:
    base = {"id": "t1", "owner": ME, "filename": "movie.mkv", "restarts": 0, "updated_at": 1_700_000_000_123}
    done = _entry(_record("MODIFY", {**base, "state": "downloading", "actor": "engine"},
                          {**base, "state": "completed", "actor": "engine"}))
    owner, sk, at, actor, kind, message, level, task_id, batch_id, data = done
    assert (owner, at, actor, kind, message, level, task_id) == (
        ME, 1_700_000_000_123, "engine", "task.state", "movie.mkv: downloading → completed", "info", "t1")
    assert sk.startswith("1700000000123#") and sk == _entry(_record("MODIFY", {**base, "state": "downloading"},
                                                                      {**base, "state": "completed"}))[1]
    other = _entry(_record("MODIFY", {**base, "state": "downloading"}, {**base, "state": "completed"}, "e2"))
    assert other[1] != sk  # another stream record, another entry
    failed = _entry(_record("MODIFY", {**base, "state": "downloading"},
                            {**base, "state": "failed", "error": "HTTP 500"}))
    assert (failed[5], failed[6]) == ("movie.mkv: downloading → failed: HTTP 500", "error")
    paused = _entry(_record("MODIFY", {**base, "state": "downloading", "actor": "engine"},
                            {**base, "state": "paused", "actor": "alice"}))
    assert paused[3] == "alice"
    # The same user's next change the engine makes is the engine's.
    resumed = _entry(_record("MODIFY", {**base, "state": "queued", "actor": "alice"},
                             {**base, "state": "downloading", "actor": "alice"}))
    assert resumed[3] == "engine"
    restart = _entry(_record("MODIFY", {**base, "state": "downloading"},
                             {**base, "state": "downloading", "restarts": 1, "note": "source changed"}))
    assert (restart[4], restart[6]) == ("task.restart", "warning")
    assert _entry(_record("MODIFY", {**base, "state": "downloading"}, {**base, "state": "downloading"})) is None
    assert _entry(_record("INSERT", None, {**base, "state": "queued"})) is None
    removed = _entry(_record("REMOVE", {**base, "state": "completed"}, None))
    assert (removed[4], removed[2]) == ("task.removed", 1_700_000_000_500)


def test_link_headers() -> None:
    from functions.rest.http import page_links

    request = SimpleNamespace(
        headers={"host": "h.example", "x-forwarded-proto": "https"}, context={"path": "/api/v1/downloads"},
        query_params={"status": "paused", "page": "3", "per_page": "10", "cursor": "old"},
    )
    links = page_links(request, total=95, page=3, per_page=10, next_cursor="abc")  # type: ignore[arg-type]
    assert links == (
        '<https://h.example/api/v1/downloads?status=paused&per_page=10&page=1>; rel="first", '
        '<https://h.example/api/v1/downloads?status=paused&per_page=10&page=2>; rel="prev", '
        '<https://h.example/api/v1/downloads?status=paused&per_page=10&page=4&cursor=abc>; rel="next", '
        '<https://h.example/api/v1/downloads?status=paused&per_page=10&page=10>; rel="last"'
    )
    bare = SimpleNamespace(headers={}, context={"path": "/api/v1/users"}, query_params=None)
    assert page_links(bare, total=3, page=1, per_page=2, next_cursor="c", paged=False) == (  # type: ignore[arg-type]
        '</api/v1/users>; rel="first", </api/v1/users?cursor=c>; rel="next"')
