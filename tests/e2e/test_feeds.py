"""Feeds end to end on the local runtime: subscribe over HTTP with an include rule; the
scheduler's tick, the SQS worker and the engine do the rest. 2 of 3 items match -> exactly 2
downloads complete, byte-identical; a 4th matching item appears -> after the next scheduled
refresh exactly one more."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.support.feedserver import Doc, Entry, FeedServer, rss2
from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess
from tests.support.wait import wait_for

KiB = 1024


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    # Ticks every 2 s, and a feed's "minute" lasts 2 s: interval_minutes=1 refreshes every 2 s.
    rt = RuntimeProcess("e2e", {"HAUL_SCHEDULE_SECONDS": "2", "HAUL_FEED_MINUTE_SECONDS": "2"}).start()
    yield rt
    rt.stop()


@pytest.fixture()
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def feed_downloads(http: requests.Session, api: str, urls: set[str]) -> list[dict[str, Any]]:
    tasks = http.get(f"{api}/downloads", params={"per_page": 500}, timeout=10).json()["tasks"]
    return [t for t in tasks if t["url"] in urls]


def test_a_feed_enqueues_what_its_rule_matches_once_and_the_next_refresh_adds_the_new_item(
        runtime: RuntimeProcess, origin: Origin, feeds: FeedServer) -> None:
    api, http = runtime.api, runtime.http
    files = {f"/ep{i}.bin": os.urandom(300 * KiB + i) for i in range(1, 5)}
    for path, data in files.items():
        origin.add(path, Resource(data=data))
    entries = [Entry("Show S01E01 wanted", origin.url("/ep1.bin"), "g1", origin.url("/ep1.bin"), 300 * KiB),
               Entry("Show S01E02 skipped", origin.url("/ep2.bin"), "g2", origin.url("/ep2.bin"), 300 * KiB),
               Entry("Show S01E03 wanted", origin.url("/ep3.bin"), "g3", origin.url("/ep3.bin"), 300 * KiB)]
    doc = Doc(body=rss2("E2E", list(reversed(entries))), etag='"one"')
    made = http.post(f"{api}/feeds", json={"url": feeds.add("/e2e.xml", doc), "name": "e2e",
                                           "interval_minutes": 1, "rules": [{"include": ["wanted"]}]}, timeout=10)
    assert made.status_code == 201, made.text
    feed_id = made.json()["id"]
    urls = {origin.url(p) for p in files}

    def completed(n: int) -> list[dict[str, Any]] | None:
        found = feed_downloads(http, api, urls)
        assert not [t for t in found if t["state"] == "failed"], found
        return found if len(found) == n and all(t["state"] == "completed" for t in found) else None

    first = wait_for(lambda: completed(2), 90, 0.5, "2 downloads from the feed to complete")
    assert {t["url"] for t in first} == {origin.url("/ep1.bin"), origin.url("/ep3.bin")}
    for task in first:
        redirect = http.get(f"{api}/downloads/{task['id']}/file", allow_redirects=False, timeout=10)
        body = requests.get(redirect.headers["Location"], timeout=30).content
        path = "/" + task["url"].rsplit("/", 1)[1]
        assert hashlib.sha256(body).digest() == hashlib.sha256(files[path]).digest()
    status = http.get(f"{api}/feeds/{feed_id}", timeout=10).json()
    assert status["status"] == "ok" and status["items_seen"] == 3 and status["items_enqueued"] == 2

    # A 4th matching item appears: the next scheduled refresh enqueues it, and only it.
    refreshes = len(doc.requests)
    doc.body = rss2("E2E", [Entry("Show S01E04 wanted", origin.url("/ep4.bin"), "g4", origin.url("/ep4.bin"),
                                  300 * KiB), *reversed(entries)])
    doc.etag = '"two"'
    after = wait_for(lambda: completed(3), 90, 0.5, "the 4th item's download to complete")
    assert len(doc.requests) > refreshes
    new = [t for t in after if t["url"] == origin.url("/ep4.bin")]
    assert len(new) == 1
    redirect = http.get(f"{api}/downloads/{new[0]['id']}/file", allow_redirects=False, timeout=10)
    assert requests.get(redirect.headers["Location"], timeout=30).content == files["/ep4.bin"]
    # More scheduled refreshes (304s now) add nothing.
    seen = len(doc.requests)
    wait_for(lambda: len(doc.requests) >= seen + 2, 30, 0.5, "two more scheduled refreshes")
    assert len(feed_downloads(http, api, urls)) == 3
    assert doc.requests[-1].get("if-none-match") == '"two"'
    items = http.get(f"{api}/feeds/{feed_id}/items", timeout=10).json()["items"]
    assert sorted(i["state"] for i in items) == ["enqueued", "enqueued", "enqueued", "excluded"]
    automation = http.get(f"{api}/automation", timeout=10).json()
    assert automation["running"] and automation["last_tick_at"] and automation["feeds"] >= 1
