"""Feeds over the WebSocket with a real client through the local gateway and the app's real
handlers: feed_matched / feed_failed in the `feeds` room, and the streamed `search` action."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from websockets.sync.client import connect

from chalicelib.auth.identity import Identity, Role
from chalicelib.persistence.models import ActivityModel
from local_runtime.ws_gateway import WsGateway
from tests.functional.test_realtime import gateway, recv, recv_until, send  # noqa: F401 - the fixture
from tests.support.auth import new_user
from tests.support.feedserver import Doc, Entry, rss2


@pytest.fixture()
def gw(gateway: WsGateway) -> WsGateway:  # noqa: F811 - the imported fixture
    """test_realtime's local gateway running the app's WebSocket handlers."""
    return gateway


def test_feed_events_reach_the_feeds_room_and_the_activity_log(svc, gw: WsGateway, feed_server) -> None:
    user_id, _, grant = new_user("user")
    who = Identity(user_id, grant["user"]["username"], Role.USER)
    url = feed_server.add("/ws", Doc(body=rss2("W", [Entry("wanted 1", feed_server.url("/w/1.bin"), "w1"),
                                                Entry("other", feed_server.url("/w/2.bin"), "w2")])))
    feed = svc.feeds.subscribe(who, {"url": url, "rules": [{"include": ["wanted"]}]})
    broken = svc.feeds.subscribe(who, {"url": feed_server.add("/gone", Doc(status=500))})
    with connect(f"{gw.url}?token={grant['access_token']}") as ws:
        send(ws, action="subscribe", rooms=["feeds"], id="s")
        assert recv_until(ws, lambda msg: msg["type"] == "subscribed")[-1]["rooms"] == ["feeds"]
        svc.feeds.refresh(who, feed.id)
        matched = recv_until(ws, lambda msg: msg["type"] == "feed_matched")[-1]
        assert matched["feed_id"] == feed.id and matched["count"] == 1
        assert matched["items"][0]["title"] == "wanted 1" and matched["items"][0]["download_id"]
        svc.feeds.refresh(who, broken.id)
        failed = recv_until(ws, lambda msg: msg["type"] == "feed_failed")[-1]
        assert failed["feed_id"] == broken.id and "HTTP 500" in failed["error"] and failed["failures"] == 1
    kinds = {e.kind for e in ActivityModel.query(f"u#{user_id}")}
    assert {"feed.subscribe", "feed.matched", "feed.failed"} <= kinds


def test_search_streams_results_then_done(svc, gw: WsGateway, feed_server) -> None:
    user_id, _, grant = new_user("user")
    who = Identity(user_id, grant["user"]["username"], Role.USER)
    tag = uuid.uuid4().hex[:6]
    names = [f"{tag} episode {i}" for i in range(25)] + ["unrelated"]
    url = feed_server.add(
        "/search", Doc(body=rss2("S", [Entry(n, feed_server.url(f"/s/{quote(n)}"), n) for n in names]))
    )
    feed = svc.feeds.subscribe(who, {"url": url, "rules": [{"include": ["nothing matches this"]}]})
    svc.feeds.refresh(who, feed.id)
    with connect(f"{gw.url}?token={grant['access_token']}") as ws:
        send(ws, action="search", q=tag.upper(), id="q1")
        messages = recv_until(ws, lambda msg: msg["type"] == "search_done")
        results = [m for m in messages if m["type"] == "search_result"]
        assert len(results) >= 3 and all(m["ref"] == "q1" for m in messages)
        found = sorted(i["title"] for m in results for i in m["items"])
        assert found == sorted(names[:-1])
        assert messages[-1]["count"] == 25 and messages[-1]["truncated"] is False
        send(ws, action="search", q="")
        assert recv(ws)["error"]["code"] == "BAD_MESSAGE"
        send(ws, action="search", q="x", feed_id="no-such-feed", id=2)
        err = recv(ws)
        assert err["error"]["code"] == "NOT_FOUND" and err["ref"] == 2
    # Someone else finds nothing of it.
    _, _, other = new_user("user")
    with connect(f"{gw.url}?token={other['access_token']}") as ws:
        send(ws, action="search", q=tag)
        done = recv_until(ws, lambda msg: msg["type"] == "search_done")
        assert done == [done[-1]] and done[-1]["count"] == 0
