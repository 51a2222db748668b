"""The notify queue's consumer (deployed function ``notify_deliveries``): one delivery attempt per
message (chalicelib/notify/service.py)."""

from __future__ import annotations

import logging
from typing import Any

from chalice.app import SQSEvent

from chalicelib.container import services

from .consume import each_message

log = logging.getLogger("haul.notify")


def handle_deliveries(event: SQSEvent) -> dict[str, Any]:
    """The notify queue: one attempt per message. A target's failure is retried by a delayed
    copy of the message (chalicelib/notify/service.py); only a failure to record it returns
    the message to SQS."""
    return each_message(event, lambda body: services().notify.deliver(body), log, "notification")
