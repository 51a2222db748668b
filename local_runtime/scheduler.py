"""EventBridge schedules, locally: a timer that invokes each ``@app.schedule`` handler."""

from __future__ import annotations

import logging
import re
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .lambda_context import LambdaContext

log = logging.getLogger("haul.local.schedule")
_RATE = re.compile(r"rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)")
_UNIT = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    match = _RATE.fullmatch(expression.strip())
    if not match:
        raise ValueError(f"the local scheduler runs rate() schedules only, not {expression!r}")
    return int(match.group(1)) * _UNIT[match.group(2).rstrip("s")]


def scheduled_event(name: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [f"arn:aws:events:local:000000000000:rule/{name}"],
        "detail": {},
    }


class Scheduler:
    def __init__(self, app_module: Any, every: float | None = None) -> None:
        from chalice.app import ScheduledEventConfig

        self._jobs: list[tuple[str, Callable[..., Any], float]] = []
        for config in app_module.app.event_sources:
            if isinstance(config, ScheduledEventConfig):
                name = config.handler_string.rsplit(".", 1)[-1]
                expression = str(config.schedule_expression.to_string()) if hasattr(
                    config.schedule_expression, "to_string") else str(config.schedule_expression)
                self._jobs.append((name, getattr(app_module, name), every or rate_seconds(expression)))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, handler, interval in self._jobs:
            thread = threading.Thread(target=self._loop, args=(name, handler, interval), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _loop(self, name: str, handler: Callable[..., Any], interval: float) -> None:
        while not self._stop.wait(interval):
            try:
                handler(scheduled_event(name), LambdaContext(name))
            except Exception:
                log.exception("scheduled handler %s failed", name)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)

    @property
    def jobs(self) -> list[tuple[str, float]]:
        return [(name, interval) for name, _, interval in self._jobs]
