"""Builds the health report's service (called by chalicelib/container.py)."""

from __future__ import annotations

from typing import Any

from ..adapters.aws import AwsClients
from ..config import Config
from .service import HealthService


def build_health(config: Config, clients: AwsClients, dynamodb: Any) -> HealthService:
    queues = {"work": config.work_queue, "work_dlq": config.work_dlq, "jobs": config.jobs_queue,
              "jobs_dlq": config.jobs_dlq, "notify": config.notify_queue, "notify_dlq": config.notify_dlq}
    return HealthService(dynamodb=dynamodb, control_table=config.control_table, s3=clients.s3, bucket=config.bucket,
                         sqs=clients.sqs, queues=queues, stage=config.stage)
