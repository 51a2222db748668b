"""Runtime configuration, read from the environment once per process.

Resource names are derived from the stage by :func:`resource_name`, the one naming rule the
CloudFormation template, the local bootstrap and the Lambda functions all share. Each name
can still be overridden by its own environment variable (``HAUL_TASKS_TABLE`` and so on),
which is how a deployed stack hands its generated names to the functions.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

APP_NAME = "haul"
LOCAL_STAGE = "local"

# Logical resource -> environment variable that overrides its physical name.
RESOURCE_ENV = {
    "tasks": "HAUL_TASKS_TABLE",
    "parts": "HAUL_PARTS_TABLE",
    "control": "HAUL_CONTROL_TABLE",
    "work": "HAUL_WORK_QUEUE",
    "work-dlq": "HAUL_WORK_DLQ",
    "bucket": "HAUL_BUCKET",
}


def resource_name(stage: str, logical: str) -> str:
    """The physical name of a logical resource in a stage, e.g. ``haul-local-tasks``."""
    return f"{APP_NAME}-{stage}-{logical}"


def _flag(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Config:
    stage: str = LOCAL_STAGE
    region: str = "us-east-1"
    tasks_table: str = resource_name(LOCAL_STAGE, "tasks")
    parts_table: str = resource_name(LOCAL_STAGE, "parts")
    control_table: str = resource_name(LOCAL_STAGE, "control")
    work_queue: str = resource_name(LOCAL_STAGE, "work")
    work_dlq: str = resource_name(LOCAL_STAGE, "work-dlq")
    bucket: str = resource_name(LOCAL_STAGE, "bucket")
    allow_private_networks: bool = True
    # Seconds a worker may hold a work message before SQS hands it to another worker.
    visibility_timeout: int = 120
    # How often (seconds) a lane writes in-part progress to DynamoDB.
    progress_interval: float = 1.0
    # A downloading task with no progress for this long is re-dispatched by the reconciler.
    stall_timeout: float = 180.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        env = os.environ if env is None else env
        stage = env.get("HAUL_STAGE", LOCAL_STAGE)

        def name(logical: str) -> str:
            return env.get(RESOURCE_ENV[logical]) or resource_name(stage, logical)

        return cls(
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            tasks_table=name("tasks"),
            parts_table=name("parts"),
            control_table=name("control"),
            work_queue=name("work"),
            work_dlq=name("work-dlq"),
            bucket=name("bucket"),
            # Private targets are reachable only where the stage says so: by default the
            # local stage (loopback test origins), never a deployed one.
            allow_private_networks=_flag(
                env.get("HAUL_ALLOW_PRIVATE_NETWORKS"), default=stage == LOCAL_STAGE
            ),
            visibility_timeout=int(env.get("HAUL_VISIBILITY_TIMEOUT", "120")),
            progress_interval=float(env.get("HAUL_PROGRESS_INTERVAL", "1.0")),
            stall_timeout=float(env.get("HAUL_STALL_TIMEOUT", "180")),
        )
