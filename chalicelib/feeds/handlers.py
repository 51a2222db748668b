"""Glue between the event sources and the feeds service: the scheduler's tick and the
``feed`` work messages (the same handlers run in Lambda and in the local runtime)."""

from __future__ import annotations

import logging
from typing import Any

from .service import MESSAGE_KIND, FeedService

log = logging.getLogger("haul.feeds")
# A worker stops a refresh this long before SQS would hand its message to another worker,
# and leaves the rest to a message of its own (at most 10 minutes in Lambda).
MESSAGE_BUDGET_SHARE = 0.6
MAX_MESSAGE_BUDGET = 600.0


def is_feed_message(body: Any) -> bool:
    return isinstance(body, dict) and body.get("kind") == MESSAGE_KIND


def tick(feeds: FeedService) -> int:
    """Claim the feeds that are due and send one work message per feed."""
    sent = feeds.refresh_due()
    if sent:
        log.info("feeds: %d due feed(s) sent to the workers", sent)
    return sent


def on_message(feeds: FeedService, body: dict[str, Any], visibility_timeout: float) -> None:
    budget = min(MAX_MESSAGE_BUDGET, max(5.0, visibility_timeout * MESSAGE_BUDGET_SHARE))
    outcome = feeds.on_message(body, budget)
    if outcome is not None:
        log.info("feed %s: %s, %d found, %d new, %d enqueued", outcome.feed_id, outcome.status, outcome.found,
                 outcome.new, outcome.enqueued)
