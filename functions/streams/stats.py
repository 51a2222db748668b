"""The statistics stream consumer (deployed function ``aggregate_changes``): the tasks table's
stream in, counters and batch summaries out (chalicelib/stats/store.py)."""

from __future__ import annotations

import logging
import time

from chalice.app import DynamoDBEvent

from chalicelib.container import services

log = logging.getLogger("haul.stats")


def handle_changes(event: DynamoDBEvent) -> None:
    """The stream handler: apply a batch of task changes to the counters and batch summaries."""
    began = time.monotonic()
    report = services().stats.apply(event.to_dict().get("Records") or [])
    log.debug("stats: %d record(s), %d change(s), %d write(s), %d skipped in %.0f ms", report.records,
              report.changes, report.writes, report.skipped, (time.monotonic() - began) * 1000)
