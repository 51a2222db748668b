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
from typing import Any

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
    "connections": "HAUL_CONNECTIONS_TABLE",
    "users": "HAUL_USERS_TABLE",
    "sessions": "HAUL_SESSIONS_TABLE",
    "api-keys": "HAUL_API_KEYS_TABLE",
    "rate-limits": "HAUL_RATE_LIMITS_TABLE",
    "batches": "HAUL_BATCHES_TABLE",
    "stats": "HAUL_STATS_TABLE",
    "activity": "HAUL_ACTIVITY_TABLE",
    # Scheduled jobs and notifications (issue #17: chalicelib/jobs/, chalicelib/notify/).
    "jobs": "HAUL_JOBS_TABLE",
    "job-runs": "HAUL_JOB_RUNS_TABLE",
    "jobs-queue": "HAUL_JOBS_QUEUE",
    "jobs-dlq": "HAUL_JOBS_DLQ",
    "notify-targets": "HAUL_NOTIFY_TARGETS_TABLE",
    "notify-deliveries": "HAUL_NOTIFY_DELIVERIES_TABLE",
    "feeds": "HAUL_FEEDS_TABLE",
    "feed-items": "HAUL_FEED_ITEMS_TABLE",
    "notify-queue": "HAUL_NOTIFY_QUEUE",
    "notify-dlq": "HAUL_NOTIFY_DLQ",
}
# Stages where a WebSocket client may connect without a token (as an owner nobody is): only
# the functional tests' stage. Everywhere else a connection authenticates (docs/security.md).
ANONYMOUS_WS_STAGES = frozenset({"test"})


def resource_name(stage: str, logical: str) -> str:
    """The physical name of a logical resource in a stage, e.g. ``haul-local-tasks``."""
    return f"{APP_NAME}-{stage}-{logical}"


def own_ports(env: Mapping[str, str]) -> tuple[int, ...]:
    """The ports this Haul's own services listen on, as the environment names them: the AWS
    endpoint (the embedded emulator, LocalStack), the WebSocket management endpoint, and the
    local runtime's HAUL_AWS_PORT / HAUL_API_PORT / HAUL_WS_PORT."""
    from urllib.parse import urlsplit

    found: set[int] = set()
    for name in ("AWS_ENDPOINT_URL", "HAUL_WS_ENDPOINT"):
        try:
            port = urlsplit(env.get(name) or "").port
        except ValueError:
            port = None
        if port:
            found.add(port)
    for name in ("HAUL_AWS_PORT", "HAUL_API_PORT", "HAUL_WS_PORT"):
        value = (env.get(name) or "").strip()
        if value.isdigit() and 0 < int(value) < 65536:
            found.add(int(value))
    return tuple(sorted(found))


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
    # Off unless the environment turns it on (the local runtime does, for its local stage).
    allow_private_networks: bool = False
    # Ports of this Haul's own services on this machine (emulator, REST API, WebSocket
    # gateway): the URL guard refuses them as origins (chalicelib/adapters/urlguard.py).
    own_ports: tuple[int, ...] = ()
    # Seconds a worker may hold a work message before SQS hands it to another worker.
    visibility_timeout: int = 30
    # How often (seconds) a lane writes in-part progress to DynamoDB.
    progress_interval: float = 1.0
    # A downloading task with no progress for this long is re-dispatched by the reconciler.
    stall_timeout: float = 180.0
    # A request that adds downloads asks for a dispatcher round with a ``kick`` work message
    # (one SendMessage; a worker runs the round) instead of running it before it answers.
    # Off unless the environment turns it on (the local runtime and the deployed stages do;
    # in-process tests drive the queue by hand, so they keep the round in the request).
    kick_by_message: bool = False
    # A worker whose download finished starts the next queued one itself (HAUL_CHAIN_STARTS):
    # the round its finish runs keeps one start for it instead of sending a start message.
    chain_starts: bool = False
    # Real-time (WebSocket API and change fan-out; see docs/websocket.md).
    connections_table: str = resource_name(LOCAL_STAGE, "connections")
    # The management endpoint (https://{api-id}.execute-api.{region}.amazonaws.com/{stage},
    # a custom domain, or the local gateway); else built from ws_api_id and ws_stage.
    ws_endpoint: str | None = None
    ws_api_id: str | None = None
    ws_stage: str = "api"
    ws_anonymous: bool = True
    # The tasks table's stream (the fan-out's trigger) and the trigger's batching window.
    tasks_stream_arn: str = ""
    fanout_window: int = 1
    # Accounts (docs/security.md): their tables, token lifetimes and request limits.
    users_table: str = resource_name(LOCAL_STAGE, "users")
    sessions_table: str = resource_name(LOCAL_STAGE, "sessions")
    api_keys_table: str = resource_name(LOCAL_STAGE, "api-keys")
    rate_limits_table: str = resource_name(LOCAL_STAGE, "rate-limits")
    # The Secrets Manager secret holding the JWT signing key; unset, the local runtime
    # generates one into the control table (a Lambda function refuses to).
    jwt_secret_name: str | None = None
    # The Secrets Manager secret holding a deployed stage's one-time setup token
    # (chalicelib/auth/setuptoken.py); unset locally, where setup needs no token.
    setup_token_secret_name: str | None = None
    access_token_seconds: int = 900
    refresh_token_seconds: int = 14 * 24 * 3600
    # Requests per user per minute (0: no limit).
    rate_limit_per_minute: int = 600
    # The control surface (issue #5): batch summaries, statistics counters, the activity log.
    batches_table: str = resource_name(LOCAL_STAGE, "batches")
    stats_table: str = resource_name(LOCAL_STAGE, "stats")
    activity_table: str = resource_name(LOCAL_STAGE, "activity")
    # Scheduled jobs (chalicelib/jobs/) and notifications (chalicelib/notify/): their tables
    # and queues; the Secrets Manager secret holding the key that encrypts targets' secrets
    # (unset: the local runtime keeps a generated one in the control table); delivery attempts
    # and the first retry's delay (doubling each time).
    jobs_table: str = resource_name(LOCAL_STAGE, "jobs")
    job_runs_table: str = resource_name(LOCAL_STAGE, "job-runs")
    jobs_queue: str = resource_name(LOCAL_STAGE, "jobs-queue")
    jobs_dlq: str = resource_name(LOCAL_STAGE, "jobs-dlq")
    notify_targets_table: str = resource_name(LOCAL_STAGE, "notify-targets")
    notify_deliveries_table: str = resource_name(LOCAL_STAGE, "notify-deliveries")
    notify_queue: str = resource_name(LOCAL_STAGE, "notify-queue")
    notify_dlq: str = resource_name(LOCAL_STAGE, "notify-dlq")
    notify_key_secret_name: str | None = None
    notify_attempts: int = 5
    notify_backoff_seconds: float = 30.0
    # Feed subscriptions and the items seen in them (chalicelib/feeds/, docs/feeds.md).
    feeds_table: str = resource_name(LOCAL_STAGE, "feeds")
    feed_items_table: str = resource_name(LOCAL_STAGE, "feed-items")
    # How many seconds one minute of a feed's interval lasts: 60 (tests shorten it).
    feed_minute_seconds: float = 60.0

    def tasks_stream_source(self, batch_size: int = 100) -> dict[str, Any]:
        """How a function consumes the tasks table's stream (``@app.on_dynamodb_record``).

        ``batch_size``: records per invocation, at most 1,000 (one GetRecords reads no more)."""
        return {
            "stream_arn": self.tasks_stream_arn,
            "batch_size": batch_size,
            "starting_position": "LATEST",
            "maximum_batching_window_in_seconds": self.fanout_window,
        }

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
            # Private targets are reachable only where the environment says so: the local
            # runtime sets it for the local stage (loopback test origins). Unset, refused.
            allow_private_networks=_flag(env.get("HAUL_ALLOW_PRIVATE_NETWORKS"), default=False),
            own_ports=own_ports(env),
            visibility_timeout=int(env.get("HAUL_VISIBILITY_TIMEOUT", "30")),
            progress_interval=float(env.get("HAUL_PROGRESS_INTERVAL", "1.0")),
            stall_timeout=float(env.get("HAUL_STALL_TIMEOUT", "180")),
            kick_by_message=_flag(env.get("HAUL_KICK_BY_MESSAGE"), default=False),
            chain_starts=_flag(env.get("HAUL_CHAIN_STARTS"), default=False),
            connections_table=name("connections"),
            ws_endpoint=env.get("HAUL_WS_ENDPOINT") or None,
            ws_api_id=env.get("HAUL_WS_API_ID") or None,
            ws_stage=env.get("HAUL_WS_STAGE") or "api",
            # Deployed stages refuse WebSocket connections without a valid token.
            ws_anonymous=_flag(env.get("HAUL_WS_ANONYMOUS"), default=stage in ANONYMOUS_WS_STAGES),
            # A deployed stack sets the real ARN; locally the stream poller finds the stream
            # from the table name in this placeholder.
            tasks_stream_arn=env.get("HAUL_TASKS_STREAM_ARN")
            or f"arn:aws:dynamodb:local:000000000000:table/{name('tasks')}/stream/latest",
            fanout_window=int(env.get("HAUL_FANOUT_WINDOW", "1")),
            users_table=name("users"),
            sessions_table=name("sessions"),
            api_keys_table=name("api-keys"),
            rate_limits_table=name("rate-limits"),
            jwt_secret_name=env.get("HAUL_JWT_SECRET_NAME") or None,
            setup_token_secret_name=env.get("HAUL_SETUP_TOKEN_SECRET_NAME") or None,
            access_token_seconds=int(env.get("HAUL_ACCESS_TOKEN_SECONDS", "900")),
            refresh_token_seconds=int(env.get("HAUL_REFRESH_TOKEN_SECONDS", str(14 * 24 * 3600))),
            rate_limit_per_minute=int(env.get("HAUL_RATE_LIMIT_PER_MINUTE", "600")),
            batches_table=name("batches"),
            stats_table=name("stats"),
            activity_table=name("activity"),
            jobs_table=name("jobs"),
            job_runs_table=name("job-runs"),
            jobs_queue=name("jobs-queue"),
            jobs_dlq=name("jobs-dlq"),
            notify_targets_table=name("notify-targets"),
            notify_deliveries_table=name("notify-deliveries"),
            notify_queue=name("notify-queue"),
            notify_dlq=name("notify-dlq"),
            notify_key_secret_name=env.get("HAUL_NOTIFY_KEY_SECRET_NAME") or None,
            notify_attempts=int(env.get("HAUL_NOTIFY_ATTEMPTS", "5")),
            notify_backoff_seconds=float(env.get("HAUL_NOTIFY_BACKOFF_SECONDS", "30")),
            feeds_table=name("feeds"),
            feed_items_table=name("feed-items"),
            feed_minute_seconds=float(env.get("HAUL_FEED_MINUTE_SECONDS", "60")),
        )
