"""The resume-or-replan decision of a start message (chalicelib/domain/resume.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain.resume import StartDecision, resume_or_replan
from chalicelib.domain.task import Task

PLANNED = Task(id="t", owner="u", url="http://o/f", filename="f", key="k", size=100, validator='"v1"',
               resumable=True, upload_id="up-1", part_size=10, part_count=10, gen=1)


def test_an_unchanged_ranged_source_with_an_upload_resumes() -> None:
    assert resume_or_replan(PLANNED, False, True, 100, '"v1"') is StartDecision.RESUME


@pytest.mark.parametrize(
    ("task", "fresh", "ranges", "size", "validator"),
    [
        (PLANNED, True, True, 100, '"v1"'),  # a restart asks for a fresh plan
        (replace(PLANNED, upload_id=None), False, True, 100, '"v1"'),  # never planned / upload forgotten
        (replace(PLANNED, resumable=False), False, True, 100, '"v1"'),  # a stream cannot resume
        (PLANNED, False, False, 100, '"v1"'),  # the origin stopped serving ranges
        (PLANNED, False, True, 101, '"v1"'),  # another length
        (PLANNED, False, True, 100, '"v2"'),  # another validator
        (PLANNED, False, True, 100, None),  # the validator is gone
    ],
)
def test_anything_else_plans_afresh(task: Task, fresh: bool, ranges: bool, size: int, validator: str | None) -> None:
    assert resume_or_replan(task, fresh, ranges, size, validator) is StartDecision.REPLAN
