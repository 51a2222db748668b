"""Feed events as notifications: the feeds package's events (activity log, WebSocket) plus a
``feed.matched`` / ``feed.failed`` event for the owner's targets, and an ``error`` when a feed
keeps failing. Built by the composition root in place of the plain
:class:`~chalicelib.feeds.events.FeedEvents`."""

from __future__ import annotations

import logging
from typing import Any

from ..activity.log import ActivityLog
from ..feeds.events import FeedEvents
from ..feeds.models import Feed, FeedItem
from .events import Event, EventName, feed_error
from .service import NotifyService

log = logging.getLogger("haul.notify")


class NotifyingFeedEvents(FeedEvents):
    def __init__(self, activity: ActivityLog, notify: NotifyService) -> None:
        super().__init__(activity)
        self.notify = notify

    def _tell(self, event: Event) -> None:
        try:
            self.notify.publish(event)
        except Exception:  # a lost notification is better than a failed refresh
            log.exception("could not queue the %s notification", event.name.value)

    def matched(self, feed: Feed, items: list[dict[str, Any]], actor: str) -> None:
        super().matched(feed, items, actor)
        names = ", ".join(str(i.get("title")) for i in items[:3]) + (
            f" and {len(items) - 3} more" if len(items) > 3 else ""
        )
        self._tell(Event(EventName.FEED_MATCHED, feed.owner, f"Feed matched: {feed.name}",
                         f"{len(items)} new item(s) enqueued: {names}", "info",
                         {"feed_id": feed.id, "feed_name": feed.name, "count": len(items),
                          "items": [i.get("title") for i in items[:20]]}))

    def failed(self, feed: Feed, error: str, failures: int, actor: str) -> None:
        super().failed(feed, error, failures, actor)
        self._tell(Event(EventName.FEED_FAILED, feed.owner, f"Feed failed: {feed.name}",
                         f"the refresh failed ({failures} in a row): {error[:500]}", "warning",
                         {"feed_id": feed.id, "feed_name": feed.name, "failures": failures, "error": error[:1000]}))
        alert = feed_error(feed.id, feed.name, feed.owner, failures, error, feed.last_ok_at)
        if alert is not None:
            self._tell(alert)

    def item_failed(self, feed: Feed, item: FeedItem, reason: str, actor: str) -> None:
        super().item_failed(feed, item, reason, actor)
        self._tell(Event(EventName.FEED_FAILED, feed.owner, f"Feed item failed: {feed.name}",
                         f"{item.title[:200]}: {reason[:500]}", "warning",
                         {"feed_id": feed.id, "feed_name": feed.name, "item_id": item.key, "error": reason[:1000]}))
