"""Admission of many downloads (POST /batches): round trips per request, and nothing half-made
when DynamoDB fails part-way (chalicelib/downloads/admission)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from moto.dynamodb.exceptions import MockValidationException
from moto.dynamodb.models import DynamoDBBackend

from chalicelib.auth.identity import Identity, Role
from chalicelib.downloads.admission import plan
from chalicelib.downloads.batches import BatchService, BatchTasksQuery
from chalicelib.persistence.models import TaskModel
from local_runtime.stream_poller import StreamPoller
from tests.support.awscalls import counted
from tests.support.stats import aggregate_poller
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("settled")


@pytest.fixture()
def who(svc) -> Iterator[Identity]:
    """A fresh user; their hundreds of queued tasks are deleted in batches afterwards (the
    ``settled`` clean-up would cancel them one by one)."""
    name = f"admit-{uuid.uuid4().hex[:8]}"
    yield Identity(user_id=name, username=name, role=Role.USER)
    with TaskModel.batch_write() as batch:
        for task in TaskModel.by_owner.query(name):
            batch.delete(task)


@pytest.fixture()
def batches(svc) -> BatchService:
    return svc.batches


@pytest.fixture()
def kicks(svc, monkeypatch) -> list[int]:
    made: list[int] = []
    original = svc.dispatcher.kick

    def kick() -> int:
        made.append(1)
        return int(original())

    monkeypatch.setattr(svc.dispatcher, "kick", kick)
    return made


@pytest.fixture()
def stream(svc) -> Iterator[StreamPoller]:
    with aggregate_poller() as p:
        yield p


def urls(n: int, tag: str) -> list[str]:
    # Nobody fetches them here: no workers run in these tests.
    return [f"http://127.0.0.1:9/{tag}/item-{i}" for i in range(n)]


def all_tasks(batches: BatchService, who: Identity, batch_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = batches.detail(who, batch_id, BatchTasksQuery(per_page=500, cursor=cursor))
        out += page["tasks"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


@pytest.mark.parametrize("size", [10, 300])
def test_round_trips_grow_by_chunks_not_by_items(svc, batches, who, kicks, size) -> None:
    with counted() as calls:
        answer = batches.create(who, {"items": [{"url": u} for u in urls(size, "rt")]})
    assert [r["ok"] for r in answer["results"]] == [True] * size
    chunks = math.ceil(size / plan.WRITE_CHUNK)
    # The tasks and their activity entries, 25 to a request; nothing written one by one.
    assert calls.of("BatchWriteItem") == 2 * chunks, calls.table()
    # Beyond those, a bounded number, whatever the size: the batch's item, one Query per state
    # of the owner's tasks for duplicates, and one kick, whose work is bounded by the free slots
    # (its reads, and an UpdateItem per download it starts).
    # The kick may start other tests' queued downloads left on this worker's emulator (no workers
    # run here), so its Queries are bounded by the slots too, like its writes below.
    slots = svc.settings.get().max_concurrent_downloads
    assert calls.of("Query") <= len(plan.DUPLICATE_STATES) + 4 + slots, calls.table()
    assert calls.total() - calls.of("BatchWriteItem") <= 20 + 2 * slots, calls.table()
    assert len(kicks) == 1
    # Every task is there, in the order sent, and the answer's tasks are they.
    stored = sorted(all_tasks(batches, who, answer["batch"]["id"]), key=lambda t: t["url"])
    assert [t["id"] for t in stored] == [t["id"] for t in sorted(answer["tasks"], key=lambda t: t["url"])]
    assert len({(t.priority, t.order) for t in (svc.repo.get(t["id"]) for t in answer["tasks"][:5]) if t}) == 5


@pytest.mark.parametrize("lookup", ["by-url", "owner-scan"])
def test_duplicates_are_found_by_either_lookup_and_within_the_request(svc, batches, who, monkeypatch, lookup) -> None:
    first = batches.create(who, {"items": [{"url": u} for u in urls(6, "dup")]})
    had = {t["url"]: t["id"] for t in first["tasks"]}
    again = urls(6, "dup") + urls(3, "dup-new")
    items = [{"url": u} for u in again] + [{"url": again[-1]}, {"url": again[0], "allow_duplicate": True}]
    # No task counts: one by-url Query per URL; counts: one Query per state of the owner's tasks.
    monkeypatch.setattr(batches._admission, "_gauge", None if lookup == "by-url" else lambda scope: {})
    with counted() as calls:
        answer = batches.create(who, {"items": items})
    results = answer["results"]
    assert [r["duplicate"] for r in results] == [True] * 6 + [False] * 3 + [True, False]
    assert [r["task_id"] for r in results[:6]] == [had[u] for u in again[:6]]
    assert results[9]["task_id"] == results[8]["task_id"]  # the same URL twice in one request
    assert results[10]["task_id"] not in had.values()
    queries = calls.of("Query")
    if lookup == "by-url":
        assert queries >= 9, calls.table()
    else:
        assert queries <= len(plan.DUPLICATE_STATES) + 4, calls.table()


def _refuse(monkeypatch: pytest.MonkeyPatch, refused: Callable[[str], bool], store_first: int = -1) -> list[str]:
    """Make the emulator's DynamoDB refuse to store a task whose URL ``refused`` picks, as if
    that item broke a rule (a ValidationException): in a BatchWriteItem the items before it
    are stored, it and the rest are not, and the request fails. From the ``store_first``-th
    refusal on (counting from 0), the item is stored and then the request fails: the answer
    was lost, not the write."""
    seen: list[str] = []
    original = DynamoDBBackend.put_item

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        url = (item_attrs.get("url") or {}).get("S", "")
        if table_name == TaskModel.Meta.table_name and url and refused(url):
            seen.append(url)
            if 0 <= store_first < len(seen):
                original(self, table_name, item_attrs, *args, **kwargs)
            raise MockValidationException(f"injected: {url} is refused")
        return original(self, table_name, item_attrs, *args, **kwargs)

    monkeypatch.setattr(DynamoDBBackend, "put_item", put_item)
    return seen


def test_a_failure_at_item_137_of_300_leaves_every_other_item_made_and_reported(
    svc, batches, who, stream, monkeypatch
) -> None:
    sent = urls(300, "fail")
    seen = _refuse(monkeypatch, lambda url: url == sent[137])
    answer = batches.create(who, {"name": "137", "items": [{"url": u} for u in sent]})
    assert seen, "the injected failure never happened"
    results = answer["results"]
    assert [r["index"] for r in results if not r["ok"]] == [137]
    assert results[137]["error"]["code"] == "UNAVAILABLE" and results[137]["task_id"] is None
    reported = {r["task_id"] for r in results if r["ok"]}
    assert len(reported) == 299 and None not in reported
    # What exists is exactly what was reported: no invisible task, none missing.
    stored = all_tasks(batches, who, answer["batch"]["id"])
    assert {t["id"] for t in stored} == reported
    assert sent[137] not in {t["url"] for t in stored}
    assert all(svc.repo.get(i) is not None for i in list(reported)[:20])
    # The batch's counters (kept from the stream) agree with its tasks.
    done = wait_for(lambda: (s := batches.summary(who, answer["batch"]["id"]))["items"] == 299 and s,
                    30, what="the batch's counters to count 299 items")
    assert done["items"] == 299


def test_a_request_that_fails_once_mid_chunk_stores_each_item_once(svc, batches, who, monkeypatch) -> None:
    sent = urls(60, "once")
    failed: list[str] = []
    seen = _refuse(monkeypatch, lambda url: url == sent[30] and not failed and not failed.append(url))  # type: ignore[func-returns-value]
    answer = batches.create(who, {"items": [{"url": u} for u in sent]})
    assert seen == [sent[30]]
    assert all(r["ok"] for r in answer["results"])
    stored = all_tasks(batches, who, answer["batch"]["id"])
    assert sorted(t["url"] for t in stored) == sorted(sent)  # items 25..29, stored before the failure, once


def test_an_item_stored_by_a_request_that_then_failed_is_reported_as_made(svc, batches, who, monkeypatch) -> None:
    sent = urls(40, "lost-answer")
    # The chunk's BatchWriteItem fails at item 30 (nothing of it stored); its own put then
    # stores it and fails: only reading it back tells that it exists.
    seen = _refuse(monkeypatch, lambda url: url == sent[30], store_first=1)
    answer = batches.create(who, {"items": [{"url": u} for u in sent]})
    assert seen == [sent[30], sent[30]]
    assert all(r["ok"] for r in answer["results"])
    stored = all_tasks(batches, who, answer["batch"]["id"])
    assert sorted(t["url"] for t in stored) == sorted(sent)
    assert {t["id"] for t in stored} == {r["task_id"] for r in answer["results"]}
