"""Feed safety against real feed servers on loopback: XML bombs and external entities refused
(and feedparser alone does not expand them either), redirects to private addresses refused on
a stage that refuses private networks, the size cap (compressed too), HTML in titles kept as
text, and a feed of 2,000 items."""

from __future__ import annotations

import gzip
import ipaddress
import resource
import time
import uuid
from typing import Any

import feedparser
import pytest

from chalicelib.adapters import safehttp
from chalicelib.adapters.urlguard import UrlGuard, refusal
from chalicelib.feeds.fetch import FeedFetcher, FetchError
from chalicelib.feeds.schemas import ItemsQuery
from chalicelib.persistence.models import TaskModel
from tests.support.feedserver import BILLION_LAUGHS, Doc, Entry, external_entity, rss2


def test_feedparser_alone_expands_no_entities() -> None:
    """The second layer: even without the guard, feedparser neither expands a billion laughs
    nor reads an external entity."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    bomb = feedparser.parse(BILLION_LAUGHS)
    assert time.monotonic() - started < 5
    assert "lollollol" not in str(bomb.feed.get("title", "")) + "".join(e.get("title", "") for e in bomb.entries)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    xxe = feedparser.parse(external_entity("file:///etc/hostname"))
    hostname = open("/etc/hostname").read().strip()
    text = str(xxe.feed.get("title", "")) + "".join(e.get("title", "") for e in xxe.entries)
    assert hostname not in text


def test_xml_bombs_and_external_entities_fail_the_refresh_with_a_reason(svc, feed_server, feed_owner) -> None:
    secret = feed_server.add("/secret", Doc(body=b"TOP-SECRET-CONTENT", content_type="text/plain"))
    cases = {
        "/bomb": BILLION_LAUGHS,
        "/xxe-file": external_entity("file:///etc/hostname"),
        "/xxe-http": external_entity(secret),
        # Not well-formed as well as a bomb: the forgiving parser's path is guarded too.
        "/bomb-broken": BILLION_LAUGHS.replace(b"</channel></rss>", b"<item><title>cut"),
    }
    for path, body in cases.items():
        feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add(path, Doc(body=body))})
        started = time.monotonic()
        answer = svc.feeds.refresh(feed_owner, feed.id)
        assert time.monotonic() - started < 10
        assert answer["status"] == "failed" and "entities" in answer["error"], (path, answer)
        assert svc.feeds.get(feed_owner, feed.id).last_error == answer["error"]
    assert feed_server.docs["/secret"].requests == []  # the external entity was never fetched
    assert list(TaskModel.by_owner.query(feed_owner.user_id)) == []


def test_a_redirect_to_a_private_address_is_refused_on_a_deployed_stage(feed_server) -> None:
    # The test's own loopback server stands for a public host; everything else private is refused.
    def public_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if str(ip) == "127.0.0.1" else refusal(ip)

    guard = UrlGuard(allow_private=False, refuse=public_loopback)
    fetcher = FeedFetcher(safehttp.session(guard), guard)
    ok = feed_server.add("/public", Doc(body=rss2("P", [])))
    assert fetcher.fetch(ok).status == 200
    for target in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/feed", "http://127.0.0.2/x",
                   "http://[::1]:9/"):
        hop = feed_server.add(f"/hop-{uuid.uuid4().hex[:6]}", Doc(redirect_to=target))
        with pytest.raises(FetchError) as refused:
            fetcher.fetch(hop)
        assert refused.value.refused and "not a public address" in str(refused.value), target
    # And the subscription itself is refused up front.
    with pytest.raises(FetchError):
        fetcher.check("http://169.254.169.254/latest/meta-data/")


def test_the_size_cap_holds_for_plain_and_compressed_bodies(feed_server) -> None:
    guard = UrlGuard(allow_private=True)
    fetcher = FeedFetcher(safehttp.session(guard), guard, max_bytes=200_000)
    big = b"<rss>" + b" " * 1_000_000 + b"</rss>"
    plain = feed_server.add("/big", Doc(body=big))
    with pytest.raises(FetchError, match="larger than 200000 bytes"):
        fetcher.fetch(plain)
    # A gzip bomb: 1 MB that compresses to ~1 KB; the cap counts what it inflates to.
    doc = Doc(body=big, gzip=True)
    bomb = feed_server.add("/gzbomb", doc)
    assert len(gzip.compress(big)) < 5_000
    with pytest.raises(FetchError, match="larger than 200000 bytes"):
        fetcher.fetch(bomb)


def test_html_in_titles_stays_text(svc, feed_server, feed_owner) -> None:
    """A title is text: what the feed says, never markup the API or the web app interprets
    (the API answers it as a JSON string; the web app renders it with textContent)."""
    raw = '<img src=x onerror="alert(1)">Show & <script>x</script>'
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/html", Doc(body=rss2("F", [
        Entry(raw, feed_server.url("/h/1.bin"), "h1")])))})
    svc.feeds.refresh(feed_owner, feed.id)
    items, _, _ = svc.feeds.items(feed_owner, feed.id, ItemsQuery())
    assert [i.view()["title"] for i in items] == [raw]


def test_a_feed_of_2000_items(svc, feed_server, feed_owner) -> None:
    names = [f"Big.Show.S01E{i:04d}.720p" for i in range(2000)]
    doc = Doc(body=rss2("Big", [Entry(n, feed_server.url(f"/big/{i}.bin"), f"big-{i}") for i, n in enumerate(names)]),
              etag='"big"')
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/2000", doc),
                                     "rules": [{"include": ["S01E0007", "S01E1999"]}]})
    started = time.monotonic()
    answer: dict[str, Any] = svc.feeds.refresh(feed_owner, feed.id)
    first = time.monotonic() - started
    # Within the API's budget it records what it can; the rest is left to the workers (here:
    # refreshed again by hand, as the workers would).
    while answer["status"] == "queued":
        answer = svc.feeds.refresh(feed_owner, feed.id)
    stored = svc.feeds.get(feed_owner, feed.id)
    assert stored.items_seen == 2000
    assert sorted(t.url for t in TaskModel.by_owner.query(feed_owner.user_id)) == [feed_server.url("/big/1999.bin"),
                                                                            feed_server.url("/big/7.bin")]
    items, _, _ = svc.feeds.items(feed_owner, feed.id, ItemsQuery(state="enqueued"))
    assert len(items) == 2
    again = svc.feeds.refresh(feed_owner, feed.id)
    assert again["status"] == "not_modified" and again["enqueued"] == 0
    print(f"\n2,000-item feed: first refresh {first:.1f} s")
