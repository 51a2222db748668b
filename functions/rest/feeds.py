"""Feed subscriptions, their items, search and the automation switch (docs/feeds.md); the
logic is in chalicelib/feeds/."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.feeds.schemas import (
    Analyse,
    Analysis,
    AutomationView,
    BulkFeeds,
    BulkFeedsAnswer,
    CollectAnswer,
    FeedDeleted,
    FeedListQuery,
    FeedPage,
    FeedRefreshed,
    FeedView,
    ItemPage,
    ItemsQuery,
    ItemView,
    PatchFeed,
    RefreshFeeds,
    RefreshReport,
    SearchPage,
    SearchQuery,
    Subscribe,
)

from .http import PAGINATION_HEADERS, caller, json_body, paginated, pagination_headers, query, respond, route

blueprint = Blueprint(__name__)
TAG = "feeds"
# feed_matched / feed_failed go to the WebSocket `feeds` room through this process's real-time side.


@route(blueprint, "/feeds", ["POST"], role=Role.USER, tag=TAG, body=Subscribe, response=FeedView, status=201,
       headers={"Location": "the new feed's URL"})
def subscribe_feed(request: Request) -> Response:
    """Subscribe to an RSS or Atom feed with rules; it is refreshed at once by the scheduler, then every interval."""
    feed = services().feeds.subscribe(caller(request), json_body(request))
    return respond(feed.view(), 201, {"Location": f"/api/v1/feeds/{feed.id}"})


@route(blueprint, "/feeds", ["GET"], tag=TAG, query=FeedListQuery, response=FeedPage, headers=PAGINATION_HEADERS)
def list_feeds(request: Request) -> Response:
    """Your feeds with their status (an admin: everyone's), oldest first."""
    q = parse(FeedListQuery, query(request), "query")
    feeds, total, cursor = services().feeds.page(caller(request), q)
    return paginated(request, "feeds", [f.view() for f in feeds], total=total, per_page=q.per_page,
                     next_cursor=cursor)


@route(blueprint, "/feeds/analyse", ["POST"], role=Role.USER, tag=TAG, body=Analyse, response=Analysis)
def analyse_feed(request: Request) -> dict[str, Any]:
    """Read a feed without subscribing: its items, their metadata and what the rules would do; nothing is stored."""
    return services().feeds.analyse(caller(request), parse(Analyse, json_body(request)))


@route(blueprint, "/feeds/search", ["GET"], tag=TAG, query=SearchQuery, response=SearchPage, errors=[404],
       headers={"Link": 'RFC 8288 links: rel="first" and rel="next" (with a cursor)'})
def search_feed_items(request: Request) -> Response:
    """Search the items of every feed you can see (title and links), newest first; `cursor` for the next page."""
    q = parse(SearchQuery, query(request), "query")
    items, cursor = services().feeds.search(caller(request), q)
    body = {"items": [i.view() for i in items], "per_page": q.per_page, "next_cursor": cursor}
    return respond(body, 200, pagination_headers(request, total=None, per_page=q.per_page, next_cursor=cursor,
                                                 paged=False))


@route(blueprint, "/feeds/refresh", ["POST"], role=Role.USER, tag=TAG, body=RefreshFeeds, response=RefreshReport)
def refresh_feeds(request: Request) -> dict[str, Any]:
    """Refresh all your feeds (an admin: everyone's) or the `ids` given; what each found and enqueued."""
    req = parse(RefreshFeeds, json_body(request))
    return services().feeds.refresh_many(caller(request), req.ids)


@route(blueprint, "/feeds/bulk", ["POST"], role=Role.USER, tag=TAG, body=BulkFeeds, response=BulkFeedsAnswer)
def bulk_feeds(request: Request) -> dict[str, Any]:
    """Enable, disable, delete or refresh up to 100 feeds: a result per id."""
    return services().feeds.bulk(caller(request), parse(BulkFeeds, json_body(request)))


@route(blueprint, "/feeds/{feed_id}", ["GET"], tag=TAG, response=FeedView, errors=[404])
def get_feed(request: Request, feed_id: str) -> dict[str, Any]:
    """A feed: its settings, rules and status (last error, last success, next refresh)."""
    return services().feeds.get(caller(request), feed_id).view()


@route(blueprint, "/feeds/{feed_id}", ["PATCH"], role=Role.USER, tag=TAG, body=PatchFeed, response=FeedView,
       errors=[404])
def patch_feed(request: Request, feed_id: str) -> dict[str, Any]:
    """Change a feed's settings, rules or what its items become; `enabled` switches it on or off."""
    return services().feeds.patch(caller(request), feed_id, json_body(request)).view()


@route(blueprint, "/feeds/{feed_id}", ["DELETE"], role=Role.USER, tag=TAG, response=FeedDeleted, errors=[404])
def delete_feed(request: Request, feed_id: str) -> dict[str, Any]:
    """Unsubscribe: the feed and its items are deleted (downloads it made stay)."""
    services().feeds.delete(caller(request), feed_id)
    return {"id": feed_id, "deleted": True}


@route(blueprint, "/feeds/{feed_id}/refresh", ["POST"], role=Role.USER, tag=TAG, response=FeedRefreshed,
       errors=[404])
def refresh_feed(request: Request, feed_id: str) -> dict[str, Any]:
    """Refresh a feed now: what it found, what was new, matched and enqueued."""
    return services().feeds.refresh(caller(request), feed_id)


@route(blueprint, "/feeds/{feed_id}/items", ["GET"], tag=TAG, query=ItemsQuery, response=ItemPage, errors=[404],
       headers=PAGINATION_HEADERS)
def list_feed_items(request: Request, feed_id: str) -> Response:
    """The items a feed has shown, each with its state (new, matched, excluded, enqueued, failed) and why."""
    q = parse(ItemsQuery, query(request), "query")
    items, total, cursor = services().feeds.items(caller(request), feed_id, q)
    return paginated(request, "items", [i.view() for i in items], total=total, per_page=q.per_page,
                     next_cursor=cursor)


@route(blueprint, "/feeds/{feed_id}/collect", ["POST"], role=Role.USER, tag=TAG, response=CollectAnswer,
       errors=[404])
def collect_feed(request: Request, feed_id: str) -> dict[str, Any]:
    """Enqueue every item the rules match, once, including ones seen before (a finished series)."""
    return services().feeds.collect(caller(request), feed_id)


@route(blueprint, "/feeds/{feed_id}/items/{item_id}/enqueue", ["POST"], role=Role.USER, tag=TAG,
       response=ItemView, errors=[404, 409])
def enqueue_feed_item(request: Request, feed_id: str, item_id: str) -> dict[str, Any]:
    """Enqueue one item by hand, whatever the rules say (409 if it has a download already)."""
    return services().feeds.enqueue_item(caller(request), feed_id, item_id).view()


# -- the automation switch --------------------------------------------------------------------


@route(blueprint, "/automation", ["GET"], tag=TAG, response=AutomationView)
def automation_status(request: Request) -> dict[str, Any]:
    """Whether scheduled feed refreshes run, the last and next refresh, and feed counts."""
    return services().feeds.automation(caller(request))


@route(blueprint, "/automation/start", ["POST"], role=Role.ADMIN, tag=TAG, response=AutomationView)
def automation_start(request: Request) -> dict[str, Any]:
    """Start scheduled feed refreshes."""
    return services().feeds.set_automation(caller(request), True)


@route(blueprint, "/automation/stop", ["POST"], role=Role.ADMIN, tag=TAG, response=AutomationView)
def automation_stop(request: Request) -> dict[str, Any]:
    """Stop scheduled feed refreshes (refreshes asked for by hand still run)."""
    return services().feeds.set_automation(caller(request), False)
