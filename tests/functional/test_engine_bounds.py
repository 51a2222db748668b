"""No endless task (issue #11, item 3): a stall is a restart like any other, so a download that
keeps stalling fails once ``retry.max_restarts`` is used up, saying why."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.persistence.models import TaskModel
from tests.functional.test_api import DEAD
from tests.support.engine import OWNER

pytestmark = pytest.mark.usefixtures("settled")


def stalled(svc: Any, restarts: int) -> Any:
    """A download that was dispatched (no worker takes it here) and has been quiet for an hour."""
    task = svc.downloads.add(OWNER, AddDownload(url=DEAD, allow_duplicate=True))
    now = svc.repo.get(task.id)
    assert now.state == TaskState.DOWNLOADING
    return svc.repo.update(now, [TaskModel.heartbeat.set(1), TaskModel.restarts.set(restarts)])


def test_a_stalled_download_is_revived_while_it_has_restarts_left_then_fails(svc) -> None:
    svc.settings.update({"max_restarts": 2})
    task = stalled(svc, 1)
    assert svc.reconciler.run() == 1
    revived = svc.repo.get(task.id)
    assert revived.state == TaskState.DOWNLOADING and revived.restarts == 2 and revived.run == task.run + 1
    svc.repo.update(revived, [TaskModel.heartbeat.set(1)])
    assert svc.reconciler.run() == 0
    failed = svc.repo.get(task.id)
    assert failed.state == TaskState.FAILED
    assert (
        failed.error.startswith("the download kept stalling") and "gave up after starting over 2 times" in failed.error
    )
    # A retry by the user starts the count again.
    from chalicelib.domain.states import Action

    retried = svc.downloads.act(OWNER, task.id, Action.RETRY)
    assert retried.restarts == 0


def test_a_runtime_resuming_what_it_ran_is_no_restart(svc) -> None:
    svc.settings.update({"max_restarts": 0})
    task = stalled(svc, 0)
    assert svc.reconciler.run(quiet_since_ms=2) == 1  # a local runtime starting up
    resumed = svc.repo.get(task.id)
    assert resumed.state == TaskState.DOWNLOADING and resumed.restarts == 0
