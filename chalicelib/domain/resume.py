"""Resume or plan afresh: what a start message does with a task that has a plan already."""

from __future__ import annotations

from enum import Enum

from .task import Task


class StartDecision(Enum):
    RESUME = "resume"  # keep the plan and the multipart upload; fetch only the missing parts
    REPLAN = "replan"  # probe's answer becomes a new generation (a new upload, parts from 1)


def resume_or_replan(
    task: Task, fresh: bool, ranges: bool, size: int | None, validator: str | None
) -> StartDecision:
    """RESUME only when nothing asks for a fresh start (``fresh``: a restart because the source
    changed or the upload expired), the task has an upload to fill, its plan is resumable,
    and the origin (``ranges``, ``size``, ``validator``: what the probe found) still serves
    byte ranges of the very same file; REPLAN otherwise."""
    same_source = (
        not fresh
        and task.upload_id is not None
        and task.resumable
        and ranges
        and task.size == size
        and task.validator == validator
    )
    return StartDecision.RESUME if same_source else StartDecision.REPLAN
