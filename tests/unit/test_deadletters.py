"""Dead letters fail a task only for its current run (issue #11, item 9)."""

from __future__ import annotations

import pytest

from chalicelib.domain.deadletters import Verdict, task_of, verdict
from chalicelib.domain.states import TaskState

T = "6c1f1a52-0d3e-4a43-9a51-4c1a6b2a1f00"
D = TaskState.DOWNLOADING


@pytest.mark.parametrize("body", [{"kind": "kick", "at": 1}, {}, {"task": ""}, {"task": None}, {"task": 5},
                                  {"task": "a/b"}, {"task": "x" * 65}, [], "text", None])
def test_a_message_without_a_task_is_dropped(body: object) -> None:
    assert task_of(body) is None
    assert verdict(body, D, 1, 1) == Verdict.NO_TASK  # type: ignore[arg-type]


@pytest.mark.parametrize(("body", "state", "run", "gen", "want"), [
    ({"kind": "start", "task": T, "run": 3}, D, 3, 1, Verdict.FAIL),
    ({"kind": "lane", "task": T, "run": 3, "gen": 2}, D, 3, 2, Verdict.FAIL),
    ({"kind": "stream", "task": T, "run": 3.0, "gen": 2}, D, 3, 2, Verdict.FAIL),
    ({"kind": "start", "task": T, "run": 2}, D, 3, 1, Verdict.STALE),  # re-dispatched since
    ({"kind": "lane", "task": T, "run": 3, "gen": 1}, D, 3, 2, Verdict.STALE),  # planned afresh since
    ({"kind": "lane", "task": T, "run": 3, "gen": 2}, TaskState.PAUSED, 3, 2, Verdict.STALE),
    ({"kind": "lane", "task": T, "run": 3, "gen": 2}, TaskState.FAILED, 3, 2, Verdict.STALE),
    ({"kind": "lane", "task": T, "run": 3, "gen": 2}, None, 0, 0, Verdict.STALE),  # the task is gone
    ({"kind": "lane", "task": T, "gen": 2}, D, 3, 2, Verdict.STALE),  # no run: cannot be the current one
    ({"kind": "lane", "task": T, "run": "3", "gen": 2}, D, 3, 2, Verdict.STALE),
    ({"kind": "lane", "task": T, "run": True, "gen": 2}, D, 1, 2, Verdict.STALE),
])
def test_only_the_current_run_and_generation_fail_the_task(body: dict[str, object], state: TaskState | None,
                                                            run: int, gen: int, want: Verdict) -> None:
    assert verdict(body, state, run, gen) == want
