"""Feeds at the service level against real feed servers on loopback: subscribe, refresh,
rules, conditional GET, items and their states, the scheduler's claim, concurrency, crash
resume (chalicelib/feeds/)."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

import pytest

from chalicelib.api.errors import NotFound, ValidationFailed
from chalicelib.auth.identity import Identity, Role
from chalicelib.feeds.models import ItemState
from chalicelib.feeds.schemas import ItemsQuery
from chalicelib.persistence.models import TaskModel
from tests.support.feedserver import Doc, Entry, FeedServer, atom, rss1, rss2
from tests.support.wait import wait_for


def entries(feed_server: FeedServer, names: list[str], prefix: str = "/files/") -> list[Entry]:
    return [Entry(title=n, link=feed_server.url(f"/page/{quote(n)}"), guid=f"guid-{n}",
                  enclosure=feed_server.url(prefix + quote(n) + ".bin"), length=1234) for n in names]


def items_by_state(svc: Any, feed_owner: Identity, feed_id: str) -> dict[str, list[str]]:
    items, _, _ = svc.feeds.items(feed_owner, feed_id, ItemsQuery(per_page=500))
    out: dict[str, list[str]] = {}
    for item in items:
        out.setdefault(item.state.value, []).append(item.title)
    return {k: sorted(v) for k, v in out.items()}


def downloads_of(feed_owner: Identity) -> list[str]:
    return sorted(t.url for t in TaskModel.by_owner.query(feed_owner.user_id))


def test_rss2_enclosures_rules_and_new_items_between_refreshes(svc, feed_server, feed_owner) -> None:
    doc = Doc(body=rss2("Shows", entries(feed_server, ["Show S01E01 1080p", "Show S01E02 720p", "Other S01E01 1080p"])),
              etag='"v1"')
    url = feed_server.add("/rss", doc)
    feed = svc.feeds.subscribe(feed_owner, {"url": url, "rules": [{"name": "show hd", "include": ["show 1080p"]},
                                                           {"include": ["show"], "exclude": ["720p"]}]})
    first = svc.feeds.refresh(feed_owner, feed.id)
    assert (first["status"], first["found"], first["new"], first["matched"], first["enqueued"]) == ("ok", 3, 3, 1, 1)
    assert downloads_of(feed_owner) == [feed_server.url("/files/Show%20S01E01%201080p.bin")]
    states = items_by_state(svc, feed_owner, feed.id)
    assert states == {"enqueued": ["Show S01E01 1080p"], "excluded": ["Other S01E01 1080p", "Show S01E02 720p"]}
    items, _, _ = svc.feeds.items(feed_owner, feed.id, ItemsQuery(state="excluded"))
    reasons = {i.title: (i.rule, i.reason) for i in items}
    assert reasons["Show S01E02 720p"] == ("rule 2", "excluded by '720p'")
    # Unchanged: a conditional GET answered 304, nothing new.
    again = svc.feeds.refresh(feed_owner, feed.id)
    assert again["status"] == "not_modified" and again["enqueued"] == 0
    assert doc.requests[-1].get("if-none-match") == '"v1"'
    # A new item appears: only it is new, and it is enqueued once.
    doc.body = rss2("Shows", entries(feed_server, ["Show S01E03 1080p", "Show S01E01 1080p", "Show S01E02 720p",
                                              "Other S01E01 1080p"]))
    doc.etag = '"v2"'
    third = svc.feeds.refresh(feed_owner, feed.id)
    assert (third["found"], third["new"], third["enqueued"]) == (4, 1, 1)
    assert len(downloads_of(feed_owner)) == 2
    stored = svc.feeds.get(feed_owner, feed.id)
    assert stored.last_ok_at and stored.last_error is None and stored.items_seen == 4 and stored.items_enqueued == 2
    assert stored.title == "Shows"


def test_atom_links_and_rss1(svc, feed_server, feed_owner) -> None:
    atom_url = feed_server.add("/atom", Doc(body=atom("A", [Entry("a one", feed_server.url("/a/1.mkv")),
                                                       Entry("a two", feed_server.url("/a/2.mkv"))]),
                                       content_type="application/atom+xml"))
    rdf_url = feed_server.add("/rdf", Doc(body=rss1("R", [Entry("r one", feed_server.url("/r/1.iso"))]),
                                     content_type="application/rdf+xml"))
    for url, want in ((atom_url, ["/a/1.mkv", "/a/2.mkv"]), (rdf_url, ["/r/1.iso"])):
        feed = svc.feeds.subscribe(feed_owner, {"url": url})
        answer = svc.feeds.refresh(feed_owner, feed.id)
        assert answer["enqueued"] == len(want), answer
    assert downloads_of(feed_owner) == sorted(feed_server.url(p) for p in ["/a/1.mkv", "/a/2.mkv", "/r/1.iso"])


def test_gzip_and_last_modified(svc, feed_server, feed_owner) -> None:
    doc = Doc(body=rss2("G", entries(feed_server, ["g1"])), gzip=True, last_modified="Mon, 01 Dec 2025 10:00:00 GMT")
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/gz", doc)})
    assert svc.feeds.refresh(feed_owner, feed.id)["enqueued"] == 1
    assert "gzip" in doc.requests[0]["accept-encoding"]
    assert svc.feeds.refresh(feed_owner, feed.id)["status"] == "not_modified"
    assert doc.requests[-1]["if-modified-since"] == "Mon, 01 Dec 2025 10:00:00 GMT"


def test_a_failing_feed_backs_off_and_shows_its_error(svc, feed_server, feed_owner) -> None:
    doc = Doc(status=503)
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/down", doc), "interval_minutes": 10})
    for _ in (1, 2, 3):
        answer = svc.feeds.refresh(feed_owner, feed.id)
        assert answer["status"] == "failed" and "HTTP 503" in answer["error"]
    failing = svc.feeds.get(feed_owner, feed.id)
    assert failing.failures == 3 and "503" in (failing.last_error or "") and failing.last_ok_at is None
    # Backoff: 10 min x 2^(3-1) after the third failure in a row.
    assert failing.next_refresh_at - (failing.last_refresh_at or 0) == 40 * 60 * 1000
    assert failing.view()["status"] == "failing"
    doc.status, doc.body = 200, rss2("Up", [])
    assert svc.feeds.refresh(feed_owner, feed.id)["status"] == "ok"
    healed = svc.feeds.get(feed_owner, feed.id)
    assert healed.failures == 0 and healed.last_error is None and healed.last_ok_at


def test_malformed_xml_is_read_forgivingly_or_refused_clearly(svc, feed_server, feed_owner) -> None:
    broken = rss2("B", entries(feed_server, ["m1", "m2"])).replace(b"</channel></rss>", b"<item><title>cut")
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/broken", Doc(body=broken))})
    answer = svc.feeds.refresh(feed_owner, feed.id)
    assert answer["status"] == "ok" and answer["enqueued"] == 2
    junk = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/junk", Doc(body=b"\x00\x01 not a feed",
                                                                    content_type="text/plain"))})
    refused = svc.feeds.refresh(feed_owner, junk.id)
    assert refused["status"] == "failed" and "not an RSS or Atom feed" in refused["error"]


def test_two_concurrent_refreshes_enqueue_each_item_once(svc, feed_server, feed_owner) -> None:
    names = [f"c{i}" for i in range(12)]
    doc = Doc(body=rss2("C", entries(feed_server, names)), delay=0.2)
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/concurrent", doc)})
    answers: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def run() -> None:
        start.wait()
        answers.append(svc.feeds.refresh(feed_owner, feed.id))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(doc.requests) == 2  # both really fetched and ran
    assert sum(a["enqueued"] for a in answers) == 12
    assert len(downloads_of(feed_owner)) == 12 and len(set(downloads_of(feed_owner))) == 12
    assert items_by_state(svc, feed_owner, feed.id) == {"enqueued": sorted(names)}


def test_a_refresh_that_crashed_half_way_resumes_without_losing_or_doubling(
    svc, feed_server, feed_owner, monkeypatch
) -> None:
    names = [f"r{i}" for i in range(6)]
    feed = svc.feeds.subscribe(
        feed_owner, {"url": feed_server.add("/crash", Doc(body=rss2("R", entries(feed_server, names)), etag='"same"'))}
    )
    real_add = svc.downloads.add
    calls = {"n": 0}

    def crashing_add(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("the worker died")
        return real_add(*args, **kwargs)

    monkeypatch.setattr(svc.downloads, "add", crashing_add)
    with pytest.raises(RuntimeError):
        svc.feeds.refresh(feed_owner, feed.id)
    monkeypatch.setattr(svc.downloads, "add", real_add)
    assert len(downloads_of(feed_owner)) == 3
    # The crashed item's claim runs out; the next refresh gets a 304 and still settles the rest.
    monkeypatch.setattr(svc.feeds, "clock", lambda: svc.feeds.repo.get_feed(feed.id).next_refresh_at + 10**7)
    answer = svc.feeds.refresh(feed_owner, feed.id)
    assert answer["status"] == "not_modified" and answer["enqueued"] == 3
    assert len(downloads_of(feed_owner)) == 6 and len(set(downloads_of(feed_owner))) == 6
    assert items_by_state(svc, feed_owner, feed.id) == {"enqueued": sorted(names)}


def test_the_tick_claims_due_feeds_once_and_sends_a_message_each(svc, feed_server, feed_owner) -> None:
    svc.feeds.set_automation(Identity("root", "root", Role.ADMIN), True)
    feeds = [
        svc.feeds.subscribe(feed_owner, {"url": feed_server.add(f"/due{i}", Doc(body=rss2("D", [])))}) for i in range(3)
    ]
    disabled = svc.feeds.subscribe(
        feed_owner, {"url": feed_server.add("/off", Doc(body=rss2("D", []))), "enabled": False}
    )
    now = max(f.next_refresh_at for f in feeds) + 1
    sent: list[dict[str, Any]] = []
    real_send = svc.feeds.queue.send
    svc.feeds.queue.send = lambda message, delay=0: sent.append(message)
    try:
        assert svc.feeds.refresh_due(now) >= 3
        assert svc.feeds.refresh_due(now) == 0  # claimed: not due again until the lease runs out
        svc.feeds.set_automation(Identity("root", "root", Role.ADMIN), False)
        assert svc.feeds.refresh_due(now + 10**9) == 0  # stopped: no scheduled refresh
    finally:
        svc.feeds.queue.send = real_send
        svc.feeds.set_automation(Identity("root", "root", Role.ADMIN), True)
    mine = {m["feed"] for m in sent}
    assert {f.id for f in feeds} <= mine and disabled.id not in mine
    assert all(m["kind"] == "feed" for m in sent)


def test_isolation_validation_and_analyse(svc, feed_server, feed_owner) -> None:
    url = feed_server.add("/iso", Doc(body=rss2("I", entries(feed_server, ["Show.S02E05.1080p.WEB-DL-GRP", "x"]))))
    feed = svc.feeds.subscribe(feed_owner, {"url": url})
    other = Identity("someone-else", "someone-else", Role.USER)
    with pytest.raises(NotFound):
        svc.feeds.get(other, feed.id)
    with pytest.raises(ValidationFailed) as bad:
        svc.feeds.subscribe(
            feed_owner, {"url": url, "rules": [{"include": ["ok"]}, {"regex": True, "include": ["a(b"]}]}
        )
    assert bad.value.details[0]["field"] == "rules.1.include.0" and "position 1" in bad.value.details[0]["message"]
    from chalicelib.feeds.schemas import Analyse

    seen = svc.feeds.analyse(feed_owner, Analyse.model_validate({"url": url, "rules": [{"min_season": 2}]}))
    assert seen["title"] == "I" and seen["total_items"] == 2 and seen["matched"] == 1
    first = seen["items"][0]
    assert first["metadata"]["season"] == 2 and first["metadata"]["episode"] == 5
    assert first["metadata"]["screen_size"] == "1080p" and first["verdict"]["matched"]
    assert seen["items"][1]["verdict"]["reason"] == "the title names no season"
    assert svc.feeds.get(feed_owner, feed.id).items_seen == 0  # analyse stores nothing
    assert items_by_state(svc, feed_owner, feed.id) == {}
    assert ItemState.NEW.value == "new"


def test_what_a_refresh_has_no_time_for_the_workers_finish(svc, workers, feed_server, feed_owner) -> None:
    """Out of time before it starts: the feed goes to the workers as a work message (the path
    the scheduler's tick uses), and they refresh it through app.py's SQS handler."""
    feed = svc.feeds.subscribe(
        feed_owner, {"url": feed_server.add("/later", Doc(body=rss2("L", entries(feed_server, ["l1", "l2"]))))}
    )
    answer = svc.feeds.refresh_many(feed_owner, [feed.id], budget_seconds=0)
    assert answer["queued"] == 1 and answer["feeds"][0]["status"] == "queued"
    wait_for(lambda: items_by_state(svc, feed_owner, feed.id) == {"enqueued": ["l1", "l2"]}, 30, 0.2,
             "the workers to refresh the feed")
    assert len(downloads_of(feed_owner)) == 2
    assert svc.feeds.get(feed_owner, feed.id).last_ok_at


def test_duplicates_across_feeds_go_through_duplicate_detection(svc, feed_server, feed_owner) -> None:
    shared = entries(feed_server, ["same thing"])
    one = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/dup1", Doc(body=rss2("A", shared)))})
    two = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/dup2", Doc(body=rss2("B", shared)))})
    first = svc.feeds.refresh(feed_owner, one.id)
    second = svc.feeds.refresh(feed_owner, two.id)
    assert first["download_ids"] == second["download_ids"] and len(downloads_of(feed_owner)) == 1
    items, _, _ = svc.feeds.items(feed_owner, two.id, ItemsQuery())
    assert items[0].state == ItemState.ENQUEUED and items[0].reason.startswith("already a download")


def test_the_per_host_limit_holds_a_refresh_back(svc, feed_server, feed_owner) -> None:
    from chalicelib.feeds.service import FeedService

    doc = Doc(body=rss2("H", entries(feed_server, ["h1"])))
    feed = svc.feeds.subscribe(feed_owner, {"url": feed_server.add("/host", doc)})
    svc.settings.update({"per_host_connections": 1}, actor="test")
    held = svc.feeds.hosts.acquire("127.0.0.1", "someone-else", 1)
    sent: list[dict[str, Any]] = []
    service: FeedService = svc.feeds
    real_send = service.queue.send
    service.queue.send = lambda message, delay=0: sent.append({**message, "delay": delay})  # type: ignore[method-assign]
    try:
        assert held
        answer = service.refresh(feed_owner, feed.id)
        assert answer["status"] == "queued" and doc.requests == []  # no connection while the host is full
        assert sent and sent[0]["feed"] == feed.id and sent[0]["delay"] > 0
        svc.feeds.hosts.release("127.0.0.1", "someone-else")
        assert service.refresh(feed_owner, feed.id)["enqueued"] == 1
        assert svc.feeds.hosts.held("127.0.0.1") == {}  # its own slot is given back
    finally:
        service.queue.send = real_send  # type: ignore[method-assign]
        svc.feeds.hosts.release("127.0.0.1", "someone-else")
