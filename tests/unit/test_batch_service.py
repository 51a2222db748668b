"""Batches on in-memory fakes: creating one (items checked on their own), reading and paging,
acting on its downloads, deleting it, and whose it is."""

from __future__ import annotations

import pytest

from chalicelib.api.errors import ApiError, NotFound
from chalicelib.domain.states import TaskState
from chalicelib.downloads.batches import BatchListQuery, BatchService, BatchTasksQuery
from tests.fakes.batches import FakeAdmission, FakeBatches
from tests.fakes.rig import ALICE, BOB, DownloadsRig


class Rig(DownloadsRig):
    def __init__(self) -> None:
        super().__init__()
        self.batches = BatchService(FakeBatches(self.tasks), self.tasks, self.service, self.activity,
                                    FakeAdmission(self.service), clock=self.clock)

    def create(self, n: int = 3, **extra: object) -> dict[str, object]:
        items = [{"url": f"https://files.example/{i}.bin"} for i in range(n)]
        return self.batches.create(ALICE, {"name": "films", "items": items, **extra})


@pytest.fixture()
def rig() -> Rig:
    return Rig()


def test_a_batch_adds_its_items_and_reports_each(rig: Rig) -> None:
    body = rig.batches.create(ALICE, {"name": "films", "defaults": {"priority": 10}, "items": [
        {"url": "https://files.example/a"}, {"url": "http://169.254.169.254/x"}, {"url": "https://files.example/b"},
        {"url": "https://files.example/c", "batch_id": "mine"},
    ]})
    results = body["results"]
    assert [r["ok"] for r in results] == [True, False, True, False]
    assert results[3]["error"]["details"][0]["field"] == "batch_id"
    batch = body["batch"]
    assert batch["name"] == "films" and batch["items"] == 2
    tasks = [rig.tasks.get(r["task_id"]) for r in results if r["ok"]]
    assert all(t is not None and t.priority == 10 and t.batch_id == batch["id"] for t in tasks)
    assert "batch.create" in rig.activity.kinds()


def test_a_batch_with_nothing_to_add_is_refused_and_not_kept(rig: Rig) -> None:
    with pytest.raises(ApiError) as caught:
        rig.batches.create(ALICE, {"items": [{"url": "http://169.254.169.254/x"}]})
    assert caught.value.status == 422 and not rig.tasks.batches and not rig.tasks.rows


def test_reading_paging_and_another_users_batch(rig: Rig) -> None:
    ids = []
    for _ in range(3):
        ids.append(rig.create(1)["batch"]["id"])  # type: ignore[index]
        rig.clock.advance(1)
    page, total, cursor = rig.batches.page(ALICE, BatchListQuery(per_page=2))
    assert total == 3 and [b["id"] for b in page] == [ids[2], ids[1]] and cursor
    rest, _, end = rig.batches.page(ALICE, BatchListQuery(per_page=2, cursor=cursor))
    assert [b["id"] for b in rest] == [ids[0]] and end is None
    with pytest.raises(ApiError):
        rig.batches.page(BOB, BatchListQuery(cursor=cursor))  # another list's cursor
    with pytest.raises(NotFound):
        rig.batches.summary(BOB, ids[0])
    detail = rig.batches.detail(ALICE, ids[0], BatchTasksQuery())
    assert len(detail["tasks"]) == 1


def test_acting_on_a_batch_skips_what_does_not_apply(rig: Rig) -> None:
    body = rig.create(3)
    batch_id = body["batch"]["id"]  # type: ignore[index]
    first = rig.tasks.get(body["results"][0]["task_id"])  # type: ignore[index]
    assert first is not None and rig.tasks.start_download(first, "engine") is not None
    rig.tasks.row(first.id).task.state = TaskState.COMPLETED
    paused = rig.batches.act(ALICE, batch_id, "pause")
    assert (paused["affected"], paused["skipped"]) == (2, 1)
    resumed = rig.batches.act(ALICE, batch_id, "resume")
    assert resumed["affected"] == 2
    deleted = rig.batches.act(ALICE, batch_id, "delete")
    assert deleted["affected"] == 3 and not rig.tasks.rows and batch_id not in rig.tasks.batches
    assert rig.activity.kinds()[-3:] == ["batch.pause", "batch.resume", "batch.delete"]
