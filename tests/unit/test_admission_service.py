"""Admission of many downloads at once (chalicelib/downloads/admission/service.py ``Admission``)
on in-memory fakes: every item gets an outcome, duplicates are found by either lookup and within
the request, a write that failed is reported, and the dispatcher is kicked once."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.urlguard import UrlGuard
from chalicelib.api.errors import Unavailable
from chalicelib.domain.states import TaskState
from chalicelib.domain.urls import dedupe_key
from chalicelib.downloads.admission.service import Admission
from chalicelib.downloads.schemas import AddDownload
from chalicelib.engine.dispatcher import WaitingList
from tests.fakes.batches import FakeAdmissionStore
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeWaiting
from tests.fakes.rig import ALICE, _resolve
from tests.fakes.tasks import FakeTasks


class Kicks:
    def __init__(self, clock: ManualClock) -> None:
        self._waiting = FakeWaiting(clock)
        self.kicks = 0

    @property
    def waiting(self) -> WaitingList:
        return self._waiting

    def request_kick(self) -> bool:
        self.kicks += 1
        return True


class Log:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def record_many(self, entries: list[dict[str, Any]]) -> None:
        self.entries.extend(entries)


class Rig:
    def __init__(self, by_owner: bool = False) -> None:
        self.clock = ManualClock()
        self.tasks = FakeTasks(self.clock)
        self.store = FakeAdmissionStore(self.tasks)
        self.dispatcher = Kicks(self.clock)
        self.log = Log()
        gauge = (lambda scope: {"queued": 1}) if by_owner else None  # few tasks: the owner's Queries are cheaper
        self.admission = Admission(self.store, self.dispatcher, UrlGuard(False, resolve=_resolve), self.log,
                                   gauge, clock=self.clock)

    def add(self, *urls: str, **options: Any) -> list[Any]:
        return self.admission.add_many(ALICE, [AddDownload(url=u, **options) for u in urls])


def test_each_item_gets_its_outcome_and_the_dispatcher_one_kick() -> None:
    rig = Rig()
    out = rig.add("https://files.example/a.iso", "http://127.0.0.1/secret", "https://files.example/b.iso")
    assert out[1].error is not None and out[1].error.status == 422 and out[1].task is None
    made = [o.task for o in (out[0], out[2])]
    assert all(t is not None and t.state == TaskState.QUEUED for t in made)
    assert made[0].created_at == rig.clock.now_ms() and made[0].order < made[1].order
    assert rig.dispatcher.kicks == 1 and rig.dispatcher.waiting.read().noted == {"alice": rig.clock.now_ms()}
    assert [e["kind"] for e in rig.log.entries] == ["task.add", "task.add"]


@pytest.mark.parametrize("by_owner", [False, True], ids=["by-url", "by-owner"])
def test_duplicates_of_stored_downloads_and_within_the_request(by_owner: bool) -> None:
    rig = Rig(by_owner)
    [first] = rig.add("https://files.example/a.iso")
    urls = [f"https://files.example/{n}.iso" for n in range(6)]  # more distinct URLs than states
    out = rig.add("https://files.example/a.iso", *urls, urls[3])
    assert out[0].duplicate and out[0].task is not None and out[0].task.id == first.task.id
    assert not any(o.duplicate for o in out[1:7])
    assert out[7].duplicate and out[7].task is not None and out[7].task.id == out[4].task.id
    again = rig.add("https://files.example/a.iso", allow_duplicate=True)
    assert not again[0].duplicate and again[0].task.id != first.task.id
    assert len(rig.tasks.ids_by_url(dedupe_key("alice", "https://files.example/a.iso"), 50)) == 2


def test_a_write_that_failed_is_reported_with_its_duplicates_and_the_rest_is_made() -> None:
    rig = Rig()

    def failing(tasks: Any, actor: str | None) -> list[Exception | None]:
        rig.store.fail = {tasks[0].id}
        return FakeAdmissionStore.create_tasks(rig.store, tasks, actor)

    rig.store.create_tasks = failing  # type: ignore[method-assign]
    out = rig.add("https://files.example/x.iso", "https://files.example/y.iso", "https://files.example/x.iso")
    assert isinstance(out[0].error, Unavailable) and isinstance(out[2].error, Unavailable)
    assert out[1].task is not None and rig.tasks.get(out[1].task.id) is not None
    assert [e["kind"] for e in rig.log.entries] == ["task.add"] and rig.dispatcher.kicks == 1
