"""The downloads service (what the REST API does with downloads) on in-memory fakes: adding
and duplicates, editing, moving, actions, deleting, files, and who may do what."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from chalicelib.adapters.s3 import UploadedPart
from chalicelib.api.errors import ApiError, Conflict, Forbidden, NotFound
from chalicelib.domain.states import Action, TaskState
from chalicelib.downloads.schemas import AddDownload, ListQuery, PatchDownload
from chalicelib.settings.store import EngineSettings
from tests.fakes.rig import ALICE, BOB, VIEWER, DownloadsRig


@pytest.fixture()
def rig() -> DownloadsRig:
    return DownloadsRig()


def test_add_queues_a_download_and_kicks(rig: DownloadsRig) -> None:
    added = rig.service.add(ALICE, AddDownload(url="https://files.example/a.iso"))
    assert not added.duplicate and added.state == TaskState.QUEUED and added.owner == "alice"
    assert rig.engine.kicks == 1 and rig.activity.kinds() == ["task.add"]
    assert rig.tasks.queued_owners == {"alice"}


def test_an_adds_activity_entry_and_its_kick_go_side_by_side(rig: DownloadsRig) -> None:
    """Neither waits for the other (two round trips cost one): the entry's write here waits
    until the kick was asked for, which a write made before the kick would never see."""
    kicked = threading.Event()
    seen: list[bool] = []
    record, request_kick = rig.activity.record, rig.engine.request_kick

    def slow_record(**entry: Any) -> None:
        seen.append(kicked.wait(10))
        record(**entry)

    def kick() -> bool:
        kicked.set()
        return request_kick()

    rig.activity.record = slow_record  # type: ignore[method-assign]
    rig.engine.request_kick = kick  # type: ignore[method-assign]
    added = rig.service.add(ALICE, AddDownload(url="https://files.example/a.iso"))
    assert seen == [True]  # the add answered after its entry was written, and both happened
    assert rig.engine.kicks == 1 and rig.activity.kinds() == ["task.add"]
    assert rig.activity.entries[0]["task_id"] == added.id


def test_the_same_url_again_answers_with_the_existing_download(rig: DownloadsRig) -> None:
    first = rig.add()
    again = rig.service.add(ALICE, AddDownload(url="https://FILES.example/a.iso"))
    assert again.duplicate and again.id == first and "task.duplicate" in rig.activity.kinds()
    assert not rig.service.add(ALICE, AddDownload(url="https://files.example/a.iso", allow_duplicate=True)).duplicate
    assert not rig.service.add(BOB, AddDownload(url="https://files.example/a.iso")).duplicate  # another user's


def test_a_blocked_url_is_a_field_error_and_nothing_is_stored(rig: DownloadsRig) -> None:
    with pytest.raises(ApiError) as caught:
        rig.add("http://169.254.169.254/latest/meta-data")
    assert caught.value.status == 422 and not rig.tasks.rows


def test_a_viewer_reads_but_does_not_change(rig: DownloadsRig) -> None:
    with pytest.raises(Forbidden):
        rig.add(who=VIEWER)


def test_another_users_download_is_not_found(rig: DownloadsRig) -> None:
    tid = rig.add()
    with pytest.raises(NotFound):
        rig.service.get(BOB, tid)
    with pytest.raises(NotFound):
        rig.service.get(ALICE, "not a valid id!")


def test_patch_changes_priority_speed_limit_and_name_before_the_transfer(rig: DownloadsRig) -> None:
    tid = rig.add()
    patched = rig.service.patch(ALICE, tid, PatchDownload(priority=10, speed_limit=65536, filename="b.iso"))
    assert patched.priority == 10 and patched.speed_limit == 65536 and patched.filename == "b.iso"
    assert patched.filename_locked and patched.key.endswith("/b.iso")
    cleared = rig.service.patch(ALICE, tid, PatchDownload.model_validate({"speed_limit": None}))
    assert cleared.speed_limit is None
    assert rig.service.patch(ALICE, tid, PatchDownload()) == cleared  # nothing asked: nothing written
    rig.tasks.row(tid).task.upload_id = "up-1"  # being stored: it moves to the new name once stored
    moving = rig.service.patch(ALICE, tid, PatchDownload(filename="c.iso"))
    assert moving.key.endswith("/b.iso") and moving.target is not None and moving.target.endswith("/c.iso")


def test_move_puts_a_queued_download_first(rig: DownloadsRig) -> None:
    first = rig.add("https://files.example/1")
    rig.clock.advance(0.001)  # queue order is the time of the add
    second = rig.add("https://files.example/2")
    assert rig.tasks.queue_of("alice", 2) == [first, second]
    rig.service.move(ALICE, second, "top")
    assert rig.tasks.queue_of("alice", 2) == [second, first]
    rig.tasks.row(first).task.state = TaskState.COMPLETED
    with pytest.raises(Conflict):
        rig.service.move(ALICE, first, "top")


def test_pause_resume_cancel_and_retry(rig: DownloadsRig) -> None:
    tid = rig.add()
    task = rig.tasks.get(tid)
    assert task is not None
    running = rig.tasks.start_download(task, "engine")
    assert running is not None
    paused = rig.service.act(ALICE, tid, Action.PAUSE)
    assert paused.state == TaskState.PAUSED and paused.run == running.run + 1
    with pytest.raises(Conflict):
        rig.service.act(ALICE, tid, Action.PAUSE)
    upload = rig.store.start_upload(paused.key, None)
    rig.tasks.row(tid).task.upload_id = upload
    rig.tasks.record_part(paused, paused.gen, "0", UploadedPart(1, "e", None), 5)
    cancelled = rig.service.act(ALICE, tid, Action.CANCEL)
    assert cancelled.state == TaskState.CANCELLED and cancelled.upload_id is None
    assert upload in rig.store.aborted and rig.tasks.part_numbers(tid, paused.gen) == []
    retried = rig.service.act(ALICE, tid, Action.RETRY)
    assert retried.state == TaskState.QUEUED and retried.finished_at is None
    assert rig.activity.kinds()[-3:] == ["task.pause", "task.cancel", "task.retry"]


def test_delete_cancels_and_removes_the_file_if_asked(rig: DownloadsRig) -> None:
    tid = rig.add()
    key = rig.tasks.row(tid).task.key
    rig.store.objects[key] = b"data"
    rig.service.delete(ALICE, tid, delete_file=True)
    assert rig.tasks.get(tid) is None and key not in rig.store.objects


def test_a_file_link_only_for_a_completed_download(rig: DownloadsRig) -> None:
    tid = rig.add()
    with pytest.raises(Conflict):
        rig.service.file_url(ALICE, tid)
    rig.tasks.row(tid).task.state = TaskState.COMPLETED
    url, seconds = rig.service.file_link(ALICE, tid)
    assert url.startswith("https://bucket.example/") and seconds == EngineSettings().presign_seconds


def test_the_list_pages_with_cursors_and_refuses_other_lists(rig: DownloadsRig) -> None:
    ids = []
    for n in range(3):
        ids.append(rig.add(f"https://files.example/{n}.iso"))
        rig.clock.advance(1)
    rig.add("https://files.example/bob.iso", who=BOB)
    first = rig.service.list(ALICE, ListQuery(per_page=2))
    assert [t.id for t in first.tasks] == ids[::-1][:2] and first.total == 3 and first.next_cursor is not None
    rest = rig.service.list(ALICE, ListQuery(per_page=2, cursor=first.next_cursor))
    assert [t.id for t in rest.tasks] == ids[:1] and rest.next_cursor is None
    with pytest.raises(ApiError) as bad:
        rig.service.list(BOB, ListQuery(per_page=2, cursor=first.next_cursor))  # alice's list's cursor
    assert bad.value.status == 422
    with pytest.raises(Forbidden):
        rig.service.list(BOB, ListQuery(owner=ALICE.user_id))
