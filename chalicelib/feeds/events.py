"""Feed events: ``feed_matched`` and ``feed_failed`` to the activity log and to the WebSocket
``feeds`` room of the feed's owner (docs/feeds.md). Telling never fails what it tells about."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..activity.log import ActivityLog
from ..realtime import messages as m
from .models import Feed, FeedItem

log = logging.getLogger("haul.feeds")
FEEDS_ROOM = "feeds"
FEED_MATCHED = "feed_matched"
FEED_FAILED = "feed_failed"
MAX_LISTED = 20  # items named in one feed_matched message (its count says how many there were)
# This process's real-time services (chalicelib/container.py's ``realtime``), named by the
# composition root (chalicelib/container.py): the feeds package does not build the real-time side.
_realtime_source: Callable[[], Any] | None = None


def use_realtime(source: Callable[[], Any] | None) -> None:
    global _realtime_source
    _realtime_source = source


class FeedEvents:
    def __init__(self, activity: ActivityLog, realtime: Callable[[], Any] | None = None) -> None:
        """``realtime``: this process's real-time services (chalicelib/container.py ``realtime``),
        asked for on first use; None: the ones :func:`use_realtime` named, if any."""
        self.activity = activity
        self._realtime = realtime

    def matched(self, feed: Feed, items: list[dict[str, Any]], actor: str) -> None:
        names = ", ".join(i["title"] for i in items[:3]) + (f" and {len(items) - 3} more" if len(items) > 3 else "")
        self.activity.record(owner=feed.owner, actor=actor, kind="feed.matched",
                             message=f"feed {feed.name}: {len(items)} new item(s) enqueued: {names}",
                             data={"feed_id": feed.id, "items": items[:MAX_LISTED]})
        self._push(feed.owner, m.message(FEED_MATCHED, feed_id=feed.id, feed_name=feed.name, count=len(items),
                                         items=items[:MAX_LISTED]))

    def failed(self, feed: Feed, error: str, failures: int, actor: str) -> None:
        self.activity.record(owner=feed.owner, actor=actor, kind="feed.failed", level="warning",
                             message=f"feed {feed.name}: refresh failed ({failures} in a row): {error}",
                             data={"feed_id": feed.id, "failures": failures})
        self._push(feed.owner, m.message(FEED_FAILED, feed_id=feed.id, feed_name=feed.name, error=error[:1000],
                                         failures=failures))

    def item_failed(self, feed: Feed, item: FeedItem, reason: str, actor: str) -> None:
        self.activity.record(owner=feed.owner, actor=actor, kind="feed.failed", level="warning",
                             message=f"feed {feed.name}: {item.title[:200]}: {reason}",
                             data={"feed_id": feed.id, "item_id": item.key})
        self._push(feed.owner, m.message(FEED_FAILED, feed_id=feed.id, feed_name=feed.name, item_id=item.key,
                                         title=item.title[:200], error=reason[:1000]))

    def _push(self, owner: str, message: dict[str, Any]) -> None:
        source = self._realtime or _realtime_source
        if source is None:
            return
        try:
            rt = source()
            listeners = rt.store.subscribers(owner).get(FEEDS_ROOM, set())
            publisher = rt.publishers.default()
            if not listeners or publisher is None:
                return
            report = publisher.deliver({cid: [m.encode(message)] for cid in listeners})
            for cid in report.gone:
                rt.store.remove(cid, owner, [FEEDS_ROOM])
        except Exception:  # a lost push is better than a failed refresh
            log.exception("could not push %s to %s's feeds room", message.get("type"), owner)
