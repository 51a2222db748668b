"""GET /health/detailed (admins): every dependency checked and timed (chalicelib/health/)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.auth.identity import Role
from chalicelib.container import services

from .downloads import VERSION
from .http import route

blueprint = Blueprint(__name__)


@route(blueprint, "/health/detailed", ["GET"], role=Role.ADMIN, tag="meta")
def detailed_health(request: Request) -> dict[str, Any]:
    """Every dependency with its status, time and figures: DynamoDB, S3, the SQS queues and their
    dead-letter queues' depth, the stream fan-out's lag, the newest worker heartbeat's age; version and
    uptime. Status ok, degraded or down (the worst of the checks)."""
    return services().health.report(VERSION)
