"""History retention: finished downloads are marked when they finish, and the reconciler's sweep
deletes them once their retention ran out (their part records too, never their files)."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.domain.states import Action, TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.persistence.models import ActivityModel, PartModel, TaskModel
from tests.support.engine import OWNER, MiB, object_exists, wait_finished
from tests.support.origin import Resource

pytestmark = pytest.mark.usefixtures("settled")
DAY = 86400


def add(svc: Any, url: str) -> Any:
    return svc.downloads.add(OWNER, AddDownload(url=url, allow_duplicate=True))


def marks(task_id: str) -> tuple[int | None, str | None]:
    model = TaskModel.get(task_id, consistent_read=True)
    return (int(model.expires.timestamp()) if model.expires else None), model.sweep


def expiries() -> list[ActivityModel]:
    return [a for a in ActivityModel.query("system") if a.kind == "history.expire"]


def test_finished_downloads_are_marked_and_swept(svc, workers, origin) -> None:
    svc.settings.update({"history": {"retention_days": 2}, "retry": {"max_attempts": 1},
                         "transfer": {"part_size": 5 * MiB}})
    origin.add("/kept.bin", Resource(data=os.urandom(6 * MiB)))
    origin.add("/broken.bin", Resource(data=b"x", fail_status=404, failures=10))
    completed = wait_finished(svc, add(svc, origin.url("/kept.bin")).id)
    failed = wait_finished(svc, add(svc, origin.url("/broken.bin")).id)
    assert (completed.state, failed.state) == (TaskState.COMPLETED, TaskState.FAILED)
    for task in (completed, failed):
        expires, sweep = marks(task.id)
        assert sweep == "1" and task.finished_at is not None
        assert expires == pytest.approx(task.finished_at / 1000 + 2 * DAY, abs=2)
        assert TaskModel.get(task.id).actor == "engine"
    assert len(svc.repo.parts(completed.id, completed.gen)) == 2

    # Retention 0 keeps what finishes from now on.
    svc.settings.update({"history": {"retention_days": 0}})
    origin.add("/forever.bin", Resource(data=os.urandom(1000)))
    kept = wait_finished(svc, add(svc, origin.url("/forever.bin")).id)
    assert kept.state == TaskState.COMPLETED and marks(kept.id) == (None, None)

    # Nothing is due yet.
    svc.reconciler.sweep()
    assert svc.repo.get(completed.id) is not None

    before = len(expiries())
    later = int(time.time()) + 3 * DAY
    swept = svc.reconciler.sweep(now_s=later)
    assert swept >= 2
    assert svc.repo.get(completed.id) is None and svc.repo.get(failed.id) is None
    assert list(PartModel.query(completed.id)) == []
    assert object_exists(svc, completed.key)  # the stored file stays
    assert svc.repo.get(kept.id) is not None
    entries = expiries()
    assert len(entries) == before + 1
    assert entries[-1].data["count"] == swept and completed.id in entries[-1].data["ids"]
    assert entries[-1].actor == "engine"
    assert svc.reconciler.sweep(now_s=later) == 0


def test_a_download_that_is_no_longer_finished_is_never_swept(svc, origin) -> None:
    svc.settings.update({"queue": {"max_concurrent_downloads": 1}})
    task = add(svc, "http://127.0.0.1:9/never.bin")  # nobody serves it; no workers run either
    paused = svc.downloads.act(OWNER, task.id, Action.PAUSE)
    # Marks on a task that is not finished (say a retry raced the sweep's Query): the delete
    # is conditional on the task still being finished.
    svc.repo.update(paused, [TaskModel.expires.set(datetime.fromtimestamp(time.time() - 10, tz=UTC)),
                             TaskModel.sweep.set("1")])
    svc.reconciler.sweep()
    assert svc.repo.get(task.id) is not None
    assert svc.repo.get(task.id).state == TaskState.PAUSED


def test_the_reconciler_run_sweeps_too(svc, origin) -> None:
    task = add(svc, "http://127.0.0.1:9/gone.bin")
    cancelled = svc.downloads.act(OWNER, task.id, Action.CANCEL)
    svc.repo.update(cancelled, [TaskModel.expires.set(datetime.fromtimestamp(time.time() - 10, tz=UTC)),
                                TaskModel.sweep.set("1")])
    svc.reconciler.run()
    assert svc.repo.get(task.id) is None
