"""The fan-out function: the tasks table's stream in, WebSocket pushes out."""

from __future__ import annotations

import logging
import time

from chalice.app import DynamoDBEvent

from chalicelib.container import realtime
from chalicelib.health.persistence import mark

log = logging.getLogger("haul.fanout")


def handle(event: DynamoDBEvent) -> None:
    began = time.monotonic()
    records = event.to_dict().get("Records") or []
    report = realtime().fanout.handle(records)
    # The fan-out's lag for GET /health/detailed: how old the newest record was (at most every 10 s).
    created = [float((r.get("dynamodb") or {}).get("ApproximateCreationDateTime") or 0) for r in records]
    if created and max(created) > 0:
        mark("fanout", int(max(0.0, time.time() - max(created)) * 1000))
    log.debug("fan-out: %d record(s), %d change(s), %d message(s), %d post(s) in %.0f ms", report.records,
              report.changes, report.messages, report.delivery.sent, (time.monotonic() - began) * 1000)
    if report.delivery.gone or report.delivery.failed:
        log.info("fan-out: %d record(s), %d message(s), %d post(s); %d gone, %d failed", report.records,
                 report.messages, report.delivery.sent, len(report.delivery.gone), len(report.delivery.failed))
