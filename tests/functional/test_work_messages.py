"""Work messages are checked where the worker receives them (chalicelib/transfer/messages.py):
a malformed one is logged, naming what is wrong, and consumed (a redelivery cannot mend it),
never a KeyError half-way through a transfer that SQS would redeliver until the dead-letter
queue; a well-formed one of an older run is dropped as before."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from local_runtime.lambda_context import LambdaContext
from local_runtime.sqs_poller import sqs_event
from tests.functional.test_dead_letters import running

pytestmark = pytest.mark.usefixtures("settled")


def work(svc: Any, *bodies: Any) -> dict[str, Any]:
    """Hand ``bodies`` to app.py's work-queue handler as Lambda would (first deliveries)."""
    import app as app_module

    messages = [
        {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": json.dumps(body),
         "Attributes": {"ApproximateReceiveCount": "1"}}
        for i, body in enumerate(bodies)
    ]
    event = sqs_event(messages, f"arn:aws:sqs:{svc.config.region}:000000000000:{svc.config.work_queue}",
                      svc.config.region)
    return app_module.work(event, LambdaContext("work"))


def test_a_malformed_work_message_is_logged_and_consumed(svc: Any, caplog: pytest.LogCaptureFixture) -> None:
    task = running(svc)
    bad = [
        {"kind": "lane", "task": task.id, "run": task.run, "gen": 1},  # no lane, step, token, parts
        {"kind": "lane", "task": task.id, "run": task.run, "gen": 1, "lane": "0", "lanes": 1, "step": 1,
         "token": "t", "parts": [[3, 1]]},  # a run that ends before it starts
        {"kind": "start", "task": task.id, "run": "latest"},
        ["not", "an", "object"],
    ]
    with caplog.at_level(logging.ERROR, logger="haul.transfer"):
        for body in bad:
            assert work(svc, body) == {"batchItemFailures": []}
    dropped = [r.getMessage() for r in caplog.records if "malformed work message" in r.getMessage()]
    assert len(dropped) == len(bad)
    assert "token must be a non-empty string" in dropped[0] and "parts must be" in dropped[1]
    assert "run must be an integer" in dropped[2] and "JSON object" in dropped[3]
    assert not [r for r in caplog.records if r.exc_info]  # no traceback: nothing blew up
    after = svc.repo.get(task.id)
    assert after is not None and after.state == task.state and after.run == task.run  # nothing changed


def test_a_start_of_an_older_run_is_dropped_quietly(svc: Any) -> None:
    task = running(svc)
    assert work(svc, {"kind": "start", "task": task.id, "run": task.run - 1}) == {"batchItemFailures": []}
    after = svc.repo.get(task.id)
    assert after is not None and after.run == task.run and after.gen == task.gen
