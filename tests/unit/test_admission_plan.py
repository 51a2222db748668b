"""chalicelib/downloads/admission/plan.py: the tasks an admission makes and how it looks for duplicates."""

from __future__ import annotations

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.downloads.admission import plan
from chalicelib.downloads.schemas import AddDownload


def test_items_of_one_request_keep_their_order_in_the_queue() -> None:
    add = AddDownload.model_validate({"url": "https://example.com/a/b.iso", "priority": "HIGH", "tags": ["x"]})
    tasks = [plan.new_task("u", add, f"id{i}", 1_000, seq=i, batch_id="b") for i in range(3)]
    assert [t.order for t in tasks] == [1_000_000, 1_000_001, 1_000_002]
    first = tasks[0]
    assert (first.filename, first.key, first.priority, first.batch_id, first.tags) == (
        "b.iso",
        "downloads/id0/b.iso",
        10,
        "b",
        ["x"],
    )
    assert first.state == TaskState.QUEUED and not first.filename_locked
    named = plan.new_task(
        "u", AddDownload(url="https://e.com/x", filename="y.bin", batch_id="mine"), "i", 5, batch_id="b"
    )
    assert named.filename_locked and named.batch_id == "mine" and named.key == "downloads/i/y.bin"


def test_the_owner_scan_is_chosen_only_when_it_takes_fewer_queries() -> None:
    assert not plan.scan_owner(100, None)  # no counts: one Query per URL
    assert not plan.scan_owner(4, {})  # as few URLs as states
    assert plan.scan_owner(5, {})  # 4 Queries (one per state) < 5
    big = {"completed": 10_000, "queued": 10}
    assert plan.owner_scan_pages(big) == 20 + 3
    assert not plan.scan_owner(23, big) and plan.scan_owner(24, big)
    assert plan.scan_owner(500, {**big, "failed": 10**9})  # failed and cancelled are never read


def test_the_newest_active_or_completed_task_of_the_owner_is_the_duplicate() -> None:
    def task(i: str, state: TaskState, created: int, owner: str = "u") -> Task:
        return Task(i, owner, "https://e.com/x", "x", "k", state=state, created_at=created)

    found = [task("a", TaskState.COMPLETED, 1), task("b", TaskState.FAILED, 5), task("c", TaskState.PAUSED, 3),
             task("d", TaskState.QUEUED, 9, owner="someone else")]
    best = plan.newest_duplicate("u", found)
    assert best is not None and best.id == "c"
    assert plan.newest_duplicate("u", [task("b", TaskState.CANCELLED, 5)]) is None
    assert [list(c) for c in plan.chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
