"""Pause, resume, cancel, retry and delete in the middle of real transfers."""

from __future__ import annotations

import os

import pytest

from chalicelib.domain.states import Action, TaskState
from chalicelib.downloads.schemas import AddDownload
from tests.support.engine import (
    OWNER,
    MiB,
    fetched_ranges,
    object_exists,
    open_uploads,
    part_ranges,
    stored_sha256,
    wait_finished,
    wait_queue_idle,
    wait_until,
)
from tests.support.origin import Resource

# Nothing left active by an earlier test may hold a download slot.
pytestmark = pytest.mark.usefixtures("settled")


def test_pause_then_resume_fetches_only_the_missing_parts(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    size = 5 * 5 * MiB + 10
    res = origin.add("/slow.bin", Resource(data=os.urandom(size), throttle_bps=10 * MiB))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/slow.bin")))
    wait_until(svc, task.id, lambda t: t.parts_done >= 1, what="the first part")
    paused = svc.downloads.act(OWNER, task.id, Action.PAUSE)
    assert paused.state == TaskState.PAUSED
    wait_queue_idle(svc)  # the workers have let go of the task
    at_pause = svc.repo.get(task.id)
    assert at_pause is not None and at_pause.state == TaskState.PAUSED
    have = sorted(int(p.number) for p in svc.repo.parts(task.id, at_pause.gen))
    assert 1 <= len(have) < 6, "the pause did not land mid-download"
    before = len(res.requests)

    svc.downloads.act(OWNER, task.id, Action.RESUME)
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert done.gen == at_pause.gen and done.restarts == 0
    assert stored_sha256(svc, done.key) == res.sha256()
    missing = [n for n in range(1, 7) if n not in have]
    assert fetched_ranges(res.requests[before:]) == part_ranges(size, 5 * MiB, missing)
    assert open_uploads(svc, done.key) == []


def test_cancel_mid_download_aborts_the_multipart_upload(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    origin.add("/slow.bin", Resource(data=os.urandom(4 * 5 * MiB), throttle_bps=10 * MiB))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/slow.bin")))
    running = wait_until(svc, task.id, lambda t: t.parts_done >= 1, what="the first part")
    assert open_uploads(svc, running.key) == [running.upload_id]
    cancelled = svc.downloads.act(OWNER, task.id, Action.CANCEL)
    assert cancelled.state == TaskState.CANCELLED
    wait_queue_idle(svc)

    final = svc.repo.get(task.id)
    assert final is not None and final.state == TaskState.CANCELLED
    assert open_uploads(svc, running.key) == []
    assert not object_exists(svc, running.key)
    assert svc.repo.parts(task.id, running.gen) == []


def test_retry_after_a_failure_reuses_the_recorded_parts(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 1})
    size = 3 * 5 * MiB + 1
    # The probe and the first two parts go through; the third part's request gets a 404.
    res = origin.add("/flaky.bin", Resource(data=os.urandom(size), fail_status=404, failures=1, fail_after=3))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/flaky.bin")))
    failed = wait_finished(svc, task.id)
    assert failed.state == TaskState.FAILED
    assert failed.error == "the origin answered HTTP 404 Not Found"
    # Part 2 was fetched before part 3 failed (the lane moves on as soon as a part is in
    # memory): its upload finishes and is recorded, so the retry can use it.
    wait_queue_idle(svc)
    failed = wait_until(svc, task.id, lambda t: t.parts_done == 2, what="part 2 recorded")
    assert failed.state == TaskState.FAILED
    before = len(res.requests)

    svc.downloads.act(OWNER, task.id, Action.RETRY)
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert done.gen == failed.gen and done.upload_id == failed.upload_id
    assert stored_sha256(svc, done.key) == res.sha256()
    assert fetched_ranges(res.requests[before:]) == part_ranges(size, 5 * MiB, [3, 4])


def test_delete_with_file_removes_the_object_and_the_task(svc, workers, origin) -> None:
    res = origin.add("/small.bin", Resource(data=os.urandom(MiB)))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/small.bin")))
    done = wait_finished(svc, task.id)
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()

    svc.downloads.delete(OWNER, task.id, delete_file=True)

    assert not object_exists(svc, done.key)
    assert svc.repo.get(task.id) is None
    assert svc.repo.parts(task.id, done.gen) == []


def test_delete_mid_download_leaves_nothing_behind(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    origin.add("/slow.bin", Resource(data=os.urandom(4 * 5 * MiB), throttle_bps=10 * MiB))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/slow.bin")))
    running = wait_until(svc, task.id, lambda t: t.parts_done >= 1, what="the first part")

    svc.downloads.delete(OWNER, task.id, delete_file=True)
    wait_queue_idle(svc)

    assert svc.repo.get(task.id) is None
    assert open_uploads(svc, running.key) == []
    assert not object_exists(svc, running.key)


def test_an_upload_expired_during_a_pause_starts_over_cleanly(svc, workers, origin) -> None:
    """S3 aborts uploads left unfinished for days (the bucket's lifecycle rule): a download
    resumed after that must start over as a new generation, not loop on a missing upload."""
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 1})
    res = origin.add("/slow.bin", Resource(data=os.urandom(6 * 5 * MiB), throttle_bps=10 * MiB))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/slow.bin")))
    wait_until(svc, task.id, lambda t: t.parts_done >= 1, what="the first part")
    svc.downloads.act(OWNER, task.id, Action.PAUSE)
    wait_queue_idle(svc)
    paused = svc.repo.get(task.id)
    assert paused is not None and paused.upload_id
    svc.store.abort(paused.key, paused.upload_id)  # what the lifecycle rule does

    svc.downloads.act(OWNER, task.id, Action.RESUME)
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert done.gen > paused.gen and done.note and "expired" in done.note
    assert stored_sha256(svc, done.key) == res.sha256()
    assert open_uploads(svc, done.key) == []
