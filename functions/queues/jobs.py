"""The jobs queue's consumer (deployed function ``job_runs``): one scheduled job run per message
(chalicelib/jobs/)."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import SQSEvent

from chalicelib.container import services

from .consume import each_message

log = logging.getLogger("haul.jobs")


def handle_runs(event: SQSEvent) -> dict[str, Any]:
    """The jobs queue: one run per message. A run's own failure is recorded in its history;
    only a failure to record it returns the message (SQS retries, then its dead-letter queue)."""
    return each_message(event, lambda body: services().jobs.execute(body), log, "job run")
