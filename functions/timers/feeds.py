"""The feeds' per-minute tick (deployed function ``refresh_feeds``): claim the feeds that are due and
send a work message per feed (chalicelib/feeds/); the worker refreshes them."""

from __future__ import annotations

from chalicelib.container import services
from chalicelib.feeds import handlers


def tick() -> int:
    return handlers.tick(services().feeds)
