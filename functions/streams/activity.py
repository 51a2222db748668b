"""The activity stream consumer (deployed function ``log_changes``): the tasks table's stream in,
activity entries out (chalicelib/activity/log.py)."""

from __future__ import annotations

import logging

from chalice.app import DynamoDBEvent

from chalicelib.container import services

log = logging.getLogger("haul.activity")


def handle_changes(event: DynamoDBEvent) -> None:
    """The tasks table's stream -> activity entries for state changes and removals."""
    written = services().activity.handle_changes(event.to_dict().get("Records") or [])
    log.debug("activity: %d entr(ies) from the stream", written)
