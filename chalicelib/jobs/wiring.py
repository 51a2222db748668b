"""Builds the jobs service from the engine's services (called by chalicelib/container.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..adapters.sqs import WorkQueue
from ..config import Config
from .models import Job, JobRun
from .persistence import JobStore, RunStore
from .runner import FeedRefresher, Notifier, Runner, feeds_unavailable
from .service import JobService, owner_identity


def build_jobs(config: Config, sqs: Any, *, downloads: Any, queue_control: Any, settings: Any, origin: Any,
               accounts: Any, feeds: FeedRefresher = feeds_unavailable, notify: Notifier | None = None,
               on_failure: Callable[[Job, JobRun], None] | None = None) -> JobService:
    runner = Runner(downloads=downloads, queue_control=queue_control, settings=settings, origin=origin,
                    feeds=feeds, notify=notify)
    return JobService(JobStore(), RunStore(), runner, WorkQueue(sqs, config.jobs_queue), owner_identity(accounts),
                      on_failure=on_failure)
