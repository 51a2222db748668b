"""The dead-letter queue's handler (app.py dead_letters) fails a task only for a message of its
current run and generation, and drops a message that names no task (issue #11, item 9)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from local_runtime.lambda_context import LambdaContext
from local_runtime.sqs_poller import sqs_event
from tests.functional.test_api import DEAD
from tests.support.engine import OWNER

pytestmark = pytest.mark.usefixtures("settled")


def dead(svc: Any, *bodies: Any) -> dict[str, Any]:
    """Hand ``bodies`` to the dead-letter handler as Lambda would (each received 5 times)."""
    import app as app_module

    messages = [
        {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": body if isinstance(body, str) else json.dumps(body),
         "Attributes": {"ApproximateReceiveCount": "5"}}
        for i, body in enumerate(bodies)
    ]
    event = sqs_event(
        messages, f"arn:aws:sqs:{svc.config.region}:000000000000:{svc.config.work_dlq}", svc.config.region
    )
    return app_module.dead_letters(event, LambdaContext("dead_letters"))


def running(svc: Any) -> Any:
    task = svc.downloads.add(OWNER, AddDownload(url=DEAD, allow_duplicate=True))
    now = svc.repo.get(task.id)
    assert now.state == TaskState.DOWNLOADING and now.run == 1  # dispatched; no worker takes it here
    return now


def test_a_kick_or_a_message_without_a_task_is_dropped_not_retried(svc) -> None:
    answer = dead(svc, {"kind": "kick", "at": 1}, {"kind": "lane"}, {"task": ""}, ["x"], "not json")
    assert answer == {"batchItemFailures": []}


def test_only_a_message_of_the_task_s_current_run_fails_it(svc) -> None:
    task = running(svc)
    # An older run's start, and a lane of the current run but of an older generation: the task
    # is fine under its current run, so they are dropped.
    dead(svc, {"kind": "start", "task": task.id, "run": task.run - 1},
         {"kind": "lane", "task": task.id, "run": task.run, "gen": task.gen + 1, "lane": "0"})
    assert svc.repo.get(task.id).state == TaskState.DOWNLOADING
    # The current run's start kept failing: the task fails, saying so.
    dead(svc, {"kind": "start", "task": task.id, "run": task.run})
    failed = svc.repo.get(task.id)
    assert failed.state == TaskState.FAILED
    assert failed.error == "a start message failed 5 times in a row; see the worker logs"


def test_a_dead_message_of_a_run_a_pause_ended_leaves_the_paused_task_alone(svc) -> None:
    from chalicelib.domain.states import Action

    task = running(svc)
    svc.downloads.act(OWNER, task.id, Action.PAUSE)
    dead(svc, {"kind": "lane", "task": task.id, "run": task.run, "gen": task.gen, "lane": "0"})
    assert svc.repo.get(task.id).state == TaskState.PAUSED
