"""What to do with a work message that landed in the dead-letter queue (issue #11, item 9).

A message lands there after SQS handed it out ``maxReceiveCount`` times without a success. It
may be long out of date by then: its task may have been paused and resumed, re-dispatched or
planned afresh meanwhile, so its ``run`` (or ``gen``) is an old one and the task is doing fine
under a new one. Only a message of the task's current run (and generation) says anything about
the task as it is now. A message with no task at all (a ``kick`` of the dispatcher) has nothing
to fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from .states import TaskState

_TASK_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


class Verdict(StrEnum):
    FAIL = "fail"  # the task's current run kept failing: fail the task with a reason
    NO_TASK = "no-task"  # a kick, or a message naming no task: log and drop
    STALE = "stale"  # an older run's or generation's, or the task is not downloading: drop


def task_of(body: Any) -> str | None:
    """The task id a dead message names, or None (a kick, garbage)."""
    if not isinstance(body, Mapping):
        return None
    task = body.get("task")
    return task if isinstance(task, str) and _TASK_ID.match(task) else None


def verdict(body: Mapping[str, Any], state: TaskState | None, run: int, gen: int) -> Verdict:
    """``body``'s verdict against its task as it is now (``state`` None: the task is gone)."""
    if task_of(body) is None:
        return Verdict.NO_TASK
    if state != TaskState.DOWNLOADING:
        return Verdict.STALE
    sent_run, sent_gen = _int(body.get("run")), _int(body.get("gen"))
    if sent_run is None or sent_run != run:
        return Verdict.STALE
    if "gen" in body and sent_gen != gen:
        return Verdict.STALE
    return Verdict.FAIL


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        return None
    return int(value)
