"""The Feeds view in a real headless Chromium against the real local runtime and a loopback
feed server: add a feed with a live preview whose matches follow the rules as you type, subscribe,
refresh, the items with their states (titles as text), search streamed over the WebSocket,
axe-core on the three pages."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.keys import Keys

from tests.support.feedserver import Doc, Entry, FeedServer, rss2
from tests.support.origin import Origin, Resource
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess

from .conftest import Browser

XSS = "<img src=x onerror=alert(1)> wanted 3"


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    """A runtime of its own, over its own embedded emulator (the other browser module's emulator
    runs in the test process, whose moto state a second one there would share), with the admin
    made at start."""
    rt = RuntimeProcess("browser-feeds", {"HAUL_ALLOW_PRIVATE_NETWORKS": "true", "HAUL_WORKER_PROCESSES": "1"})
    yield rt.start(timeout=120)
    rt.stop()


@pytest.fixture(scope="module")
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as s:
        yield s


def test_add_a_feed_with_a_live_preview_then_its_items_and_search(browser: Browser, runtime: RuntimeProcess,
                                                                  origin: Origin, feeds: FeedServer) -> None:
    for i in (1, 2, 3):
        origin.add(f"/f{i}.bin", Resource(data=b"x" * 1000 * i))
    url = feeds.add("/ui.xml", Doc(body=rss2("UI feed", [
        Entry("Show wanted 1 1080p", origin.url("/f1.bin"), "u1", origin.url("/f1.bin"), 1000),
        Entry("Show skipped 2", origin.url("/f2.bin"), "u2", origin.url("/f2.bin"), 2000),
        Entry(XSS, origin.url("/f3.bin"), "u3", origin.url("/f3.bin"), 3000)])))
    b = browser
    b.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    b.css("a[href='#/feeds']").click()
    b.wait(lambda: "No feeds yet" in b.text(), what="the empty feeds list")
    b.go("feeds/new")
    b.wait(lambda: b.css("#feed-url"), what="the add form")
    b.fill("#feed-url", url)
    b.wait(lambda: b.css("[data-testid=preview-matched]").text == "3", what="the preview with no pattern")
    b.fill("#rule-0-include", "wanted")
    b.wait(lambda: b.css("[data-testid=preview-matched]").text == "2", what="the preview following the rule")
    b.fill("#rule-0-include", "wanted 1080p")
    b.wait(lambda: b.css("[data-testid=preview-matched]").text == "1", what="the preview following the edit")
    assert XSS in b.text()  # a title is text, never markup
    b.shot("feeds-add-preview")
    assert not violations(b), violations(b)
    b.fill("#rule-0-include", "wanted")
    b.wait(lambda: b.css("[data-testid=preview-matched]").text == "2", what="the preview again")
    b.css("form.panel button[type=submit]").click()
    b.wait(lambda: "#/feed/" in b.driver.current_url and b.all(".page-title"), what="the feed's page")
    b.click_text("Refresh now")
    # (Badges are capitalised by CSS: Selenium reads the rendered text.)
    b.wait(lambda: len([r for r in b.all("tbody tr") if "enqueued" in r.text.lower()]) == 2, what="two items enqueued")
    assert "excluded" in b.text().lower() and XSS in b.text()
    b.shot("feeds-detail")
    assert not violations(b), violations(b)
    b.go("feeds")
    b.wait(
        lambda: "UI feed" in b.text() and b.css("tbody .badge").text.lower() == "ok",
        what="the list with the feed's status",
    )
    b.fill("#feed-search", "wanted")
    b.css("#feed-search").send_keys(Keys.ENTER)  # (a toast may cover the button)
    b.wait(lambda: "2 found" in b.text(), what="the streamed search results")
    assert len(b.all(".search-results li")) == 2
    b.shot("feeds-list-search")
    assert not violations(b), violations(b)
    assert not b.problems(), b.problems()
    assert b.driver.execute_script("return document.querySelectorAll('img[src=x]').length") == 0


def violations(b: Browser) -> list[str]:
    return [f"{v['id']}: {v['help']}" for v in b.axe()]
