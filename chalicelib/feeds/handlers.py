"""Glue between the event sources and the feeds service: the scheduler's tick and the
``feed`` work messages (the same handlers run in Lambda and in the local runtime)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from ..api.errors import ApiError
from ..auth.identity import Identity, Role
from ..realtime import messages as m
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


# -- the WebSocket search action -------------------------------------------------------------
SEARCH_RESULT = "search_result"
SEARCH_DONE = "search_done"
SEARCH_LIMIT = 200  # items one search streams at most
_FRAME_BUDGET = 28 * 1024  # a search_result stays under API Gateway's 32 KB frame


def search_messages(feeds: FeedService, identity: Any, args: dict[str, Any], ref: Any) -> Iterator[dict[str, Any]]:
    """A search's messages for a WebSocket connection: ``search_result`` with the items found
    so far (sent as soon as a few are found, each under 32 KB), then ``search_done``."""
    roles = set(getattr(identity, "roles", ()) or ())
    role = Role.ADMIN if "admin" in roles else Role.USER if "user" in roles else Role.VIEWER
    who = Identity(user_id=identity.owner, username=identity.owner, role=role)
    extra = {"ref": ref} if ref is not None else {}
    batch: list[dict[str, Any]] = []
    count = 0
    try:
        for item in feeds.search_stream(who, args["q"], args.get("feed_id"), SEARCH_LIMIT):
            view = item.view()
            if batch and m.size_of(batch) + m.size_of(view) > _FRAME_BUDGET:
                yield m.message(SEARCH_RESULT, items=batch, **extra)
                batch = []
            batch.append(view)
            count += 1
            if len(batch) >= 10:
                yield m.message(SEARCH_RESULT, items=batch, **extra)
                batch = []
    except ApiError as exc:
        raise m.BadMessage(exc.code, exc.message, (exc.details or [{}])[0].get("field"), ref) from None
    if batch:
        yield m.message(SEARCH_RESULT, items=batch, **extra)
    yield m.message(SEARCH_DONE, count=count, truncated=count >= SEARCH_LIMIT, **extra)
