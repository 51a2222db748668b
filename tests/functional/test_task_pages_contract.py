"""The downloads list read through its port (chalicelib/downloads/listing.py ``TaskPages``), run
against the in-memory fake (tests/fakes/listing.py) and the DynamoDB implementation
(chalicelib/persistence/listing.py ``DynamoTaskPages``, on moto): the same plans give the same
pages, totals and cursors on both, so the fake the download service's unit tests use lists as
the real indexes do."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.downloads import listing
from chalicelib.downloads.schemas import ListQuery
from chalicelib.transfer.ports import TaskStore
from tests.fakes.clock import ManualClock
from tests.fakes.listing import FakeTaskPages
from tests.fakes.tasks import FakeTasks

NOW = 1_700_000_000_000


@dataclass
class Rig:
    tasks: TaskStore
    pages: listing.TaskPages

    def add(self, owner: str, n: int, state: TaskState = TaskState.QUEUED, **values: Any) -> Task:
        tid = f"{n:03d}-{uuid.uuid4().hex[:8]}"
        task = Task(id=tid, owner=owner, url=f"http://o.test/{tid}", filename=f"file-{n}.bin", key=f"k/{tid}",
                    state=state, created_at=NOW + n, updated_at=NOW + n, order=(NOW + n) * 1000, **values)
        self.tasks.create(task, actor="tester")
        return task

    def ids(self, owner: str, is_admin: bool = False, **query: Any) -> tuple[list[str], int, str | None]:
        page = listing.list_tasks(ListQuery.model_validate(query), owner, is_admin, self.pages)
        return [t.id for t in page.tasks], page.total, page.next_cursor


@pytest.fixture(params=["fake", "dynamodb"])
def rig(request: pytest.FixtureRequest) -> Iterator[Rig]:
    if request.param == "fake":
        fake = FakeTasks(ManualClock(NOW))
        yield Rig(fake, FakeTaskPages(fake))
        return
    request.getfixturevalue("emulator")
    from chalicelib.persistence.listing import DynamoTaskPages
    from chalicelib.persistence.tasks import DynamoTasks

    yield Rig(DynamoTasks(clock=ManualClock(NOW)), DynamoTaskPages())


def _owner() -> str:
    return f"u-{uuid.uuid4().hex[:10]}"


def test_pages_newest_first_with_cursors_and_the_last_page_from_the_end(rig: Rig) -> None:
    me = _owner()
    made = [rig.add(me, n).id for n in range(5)]
    newest = made[::-1]
    first, total, cursor = rig.ids(me, per_page=2)
    assert first == newest[:2] and total == 5 and cursor is not None
    second, total, cursor = rig.ids(me, per_page=2, cursor=cursor)
    assert second == newest[2:4] and total == 5 and cursor is not None
    third, _, cursor = rig.ids(me, per_page=2, cursor=cursor)
    assert third == newest[4:] and cursor is None
    assert rig.ids(me, per_page=2, page=3)[0] == newest[4:]  # the last page, read backwards
    assert rig.ids(me, per_page=2, page=2)[0] == newest[2:4]
    assert rig.ids(me, sort="created_at", per_page=10)[0] == made
    _, _, mine = rig.ids(me, per_page=2)
    with pytest.raises(listing.BadCursor):
        rig.ids(me, per_page=2, status="queued", cursor=mine)  # another list's cursor


def test_states_text_and_dates_filter_the_list(rig: Rig) -> None:
    me = _owner()
    a = rig.add(me, 1)
    b = rig.add(me, 2, TaskState.PAUSED)
    c = rig.add(me, 3, TaskState.FAILED, category="iso", tags=["linux"])
    rig.add(_owner(), 4, TaskState.PAUSED)
    assert rig.ids(me, status="paused")[:2] == ([b.id], 1)
    assert rig.ids(me, status="paused,failed")[:2] == ([c.id, b.id], 2)
    assert rig.ids(me, q="FILE-1")[:2] == ([a.id], 1)
    assert rig.ids(me, category="iso", tag="linux")[0] == [c.id]
    assert rig.ids(me, created_from=NOW + 2, created_to=NOW + 3)[0] == [c.id, b.id]
    assert rig.ids(me, status="queued", created_to=NOW + 1)[0] == [a.id]


def test_the_queue_order_is_priority_then_order(rig: Rig) -> None:
    me = _owner()
    low, high, mid = rig.add(me, 1), rig.add(me, 2, priority=10), rig.add(me, 3, priority=5)
    done = rig.add(me, 4, TaskState.COMPLETED)
    assert rig.ids(me, sort="queue", status="queued")[0] == [high.id, mid.id, low.id]
    assert rig.ids(me, sort="queue")[0][:3] == [high.id, mid.id, low.id] and done.id in rig.ids(me, sort="queue")[0]


def test_a_batch_lists_its_owners_tasks_and_an_admin_everyones(rig: Rig) -> None:
    me, other, batch = _owner(), _owner(), f"b-{uuid.uuid4().hex[:8]}"
    mine = [rig.add(me, n, batch_id=batch).id for n in range(3)]
    theirs = rig.add(other, 5, batch_id=batch).id
    assert rig.ids(me, batch_id=batch)[0] == mine[::-1]
    assert rig.ids(me, batch_id=batch, sort="created_at", per_page=2)[0] == mine[:2]
    assert rig.ids(other, batch_id=batch)[0] == [theirs]
    assert rig.ids(me, True, batch_id=batch)[:2] == ([theirs, *mine[::-1]], 4)
