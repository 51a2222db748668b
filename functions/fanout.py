"""The fan-out function: the tasks table's stream in, WebSocket pushes out."""

from __future__ import annotations

import logging
import time

from chalice.app import DynamoDBEvent

from chalicelib.realtime.wiring import realtime

log = logging.getLogger("haul.fanout")


def handle(event: DynamoDBEvent) -> None:
    began = time.monotonic()
    report = realtime().fanout.handle(event.to_dict().get("Records") or [])
    log.debug("fan-out: %d record(s), %d change(s), %d message(s), %d post(s) in %.0f ms", report.records,
              report.changes, report.messages, report.delivery.sent, (time.monotonic() - began) * 1000)
    if report.delivery.gone or report.delivery.failed:
        log.info("fan-out: %d record(s), %d message(s), %d post(s); %d gone, %d failed", report.records,
                 report.messages, report.delivery.sent, len(report.delivery.gone), len(report.delivery.failed))
