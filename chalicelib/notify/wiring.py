"""Builds the notification service (called by chalicelib/container.py)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

import boto3
import requests

from ..adapters.sqs import WorkQueue
from ..adapters.urlguard import UrlGuard
from ..config import Config
from .crypto import SecretBox, no_material, secrets_manager_material
from .events import Event, EventName
from .persistence import DeliveryStore, TargetStore, control_table_material
from .senders import Senders
from .service import NotifyService

log = logging.getLogger("haul.notify")


def key_material(config: Config) -> Callable[[], str]:
    if config.notify_key_secret_name:
        return secrets_manager_material(
            config.notify_key_secret_name,
            lambda: boto3.session.Session(region_name=config.region).client("secretsmanager"))
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return no_material
    return control_table_material


def build_notify(config: Config, sqs: Any, guard: UrlGuard, session: requests.Session,
                 push: Callable[[str, dict[str, Any]], None]) -> NotifyService:
    """``push``: how a ``notification`` reaches the owner's WebSocket connections (the
    composition root passes the real-time side's; the notify package does not import it)."""
    return NotifyService(
        TargetStore(), DeliveryStore(), SecretBox(key_material(config)), Senders(session, guard), guard,
        WorkQueue(sqs, config.notify_queue), WorkQueue(sqs, config.notify_dlq), attempts=config.notify_attempts,
        backoff_seconds=config.notify_backoff_seconds, push=push,
    )


def job_failed(notify: NotifyService) -> Callable[[Any, Any], None]:
    """A failed job run -> a ``job.failed`` event for the job's owner (chalicelib/jobs/ calls it)."""

    def announce(job: Any, run: Any) -> None:
        notify.publish(Event(EventName.JOB_FAILED, job.owner, f"Job failed: {job.name}",
                             f"{job.name} ({job.action.value}) failed: {run.error or 'unknown error'}", "error",
                             {"job_id": job.id, "run_id": run.id, "action": job.action.value, "error": run.error},
                             key=f"job-run:{run.id}"))

    return announce
