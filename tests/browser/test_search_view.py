"""The Search view in a real headless Chromium against the real local runtime, a fake TMDB and
Torznab indexer on loopback (tests/support/providers.py) and a loopback origin: the 503 that
names the missing setting in words, a season's candidates grouped by episode (names from TMDB as
text), "Grab season" making one batch whose downloads complete and are filed by their metadata; the
Providers page configuring TMDB and an indexer with the keys never shown again; axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.origin import Origin, Resource
from tests.support.providers import INDEXER_KEY, TMDB_KEY, ProviderServer, Show, Torrent
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess

from .conftest import Browser

XSS = "<img src=x onerror=alert(1)> Second"


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    """A runtime of its own over its own embedded emulator, with the admin made at start."""
    rt = RuntimeProcess("browser-search", {"HAUL_ALLOW_PRIVATE_NETWORKS": "true", "HAUL_WORKER_PROCESSES": "1"})
    yield rt.start(timeout=120)
    rt.stop()


@pytest.fixture(scope="module")
def fake(origin: Origin) -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[1396] = Show(1396, "Show", "2008-01-20", {1: ["Pilot", XSS, "Third"]})
        server.shows[77] = Show(77, "Show Again", "2015-03-01", {1: ["Return"]})
        for name, size in (("e01-720", 1000), ("e01-1080", 2000), ("e02-1080", 3000)):
            origin.add(f"/{name}.mkv", Resource(data=bytes([len(name)]) * size))
        server.torrents += [
            Torrent("Show.S01E01.720p.HDTV.x264-AAA", origin.url("/e01-720.mkv"), 1000),
            Torrent("Show.S01E01.1080p.WEB.h264-BBB", origin.url("/e01-1080.mkv"), 2000),
            Torrent("Show.S01E02.1080p.WEB.h264-BBB", origin.url("/e02-1080.mkv"), 3000),
        ]
        yield server


def test_search_a_season_and_grab_it(browser: Browser, runtime: RuntimeProcess, fake: ProviderServer) -> None:
    b = browser
    b.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    b.css("a[href='#/search']").click()
    b.wait(lambda: b.css("#search-what"), what="the search form")
    b.fill("#search-what", "Show")
    b.fill("#search-year", "2008")
    b.css("form[role=search] button[type=submit]").click()
    b.wait(lambda: "tmdb.api_key" in b.css(".error-note").text, what="the missing setting named in words")

    # An admin configures TMDB and an indexer in the Providers page; the keys are never shown again.
    b.css("a[href='#/providers']").click()
    b.wait(lambda: b.css("#p-tmdb-api_key"), what="the providers form")
    assert "not configured" in b.css("fieldset legend").text.lower()
    b.fill("#p-tmdb-api_key", TMDB_KEY)
    b.fill("#p-tmdb-base_url", fake.tmdb_url)
    b.fill("#p-tmdb-image_base_url", fake.image_url)
    b.click_text("Add an indexer")
    b.fill("#p-ix-0-name", "fake")
    b.fill("#p-ix-0-url", "ftp://nowhere")
    b.fill("#p-ix-0-key", INDEXER_KEY)
    b.fill("#p-quality-resolutions", "1080p, 720p")
    b.click_text("Save providers")
    b.wait(lambda: b.all(".field.invalid #p-ix-0-url"), what="the bad indexer URL named next to its field")
    b.fill("#p-ix-0-url", fake.torznab_url)
    b.click_text("Save providers")
    b.wait(lambda: "version 1" in b.text().lower(), what="the providers saved")
    assert "not configured" not in b.css("fieldset legend").text.lower()
    source = b.driver.page_source
    assert TMDB_KEY not in source and INDEXER_KEY not in source
    assert "a key is stored" in b.text()
    b.shot("providers")
    violations = [f"{v['id']}: {v['help']}" for v in b.axe()]
    assert not violations, violations
    saved = runtime.http.get(f"{runtime.api}/settings/providers", timeout=10).json()
    assert saved["indexers"][0]["api_key_set"] and saved["quality"]["resolutions"] == ["1080p", "720p"]

    b.go("search")
    b.wait(lambda: b.css("#search-what"), what="the search form")
    # Without a year: TMDB's exact title is taken, the other match is offered.
    b.fill("#search-what", "Show")
    b.css("form[role=search] button[type=submit]").click()
    b.wait(lambda: b.all(".other-matches button"), what="the other matches on TMDB")
    b.click_text("Show Again (2015)")
    b.wait(lambda: "Show Again (2015) · Season 1" in b.text(), what="the other show searched by its id")
    assert b.css("#search-what").get_attribute("value") == "77"
    assert b.css("[data-testid=search-summary]").text == "0 of 1 episodes have a file; missing: E01."
    b.fill("#search-what", "Show")
    b.fill("#search-year", "2008")
    b.css("form[role=search] button[type=submit]").click()
    b.wait(lambda: b.all("[data-testid=search-summary]"), what="the season's candidates")
    assert b.css("[data-testid=search-summary]").text == "2 of 3 episodes have a file; missing: E03."
    episodes = b.all(".episode")
    assert [e.find_element("css selector", "h3").text for e in episodes] == ["E01 Pilot", f"E02 {XSS}", "E03 Third"]
    first = episodes[0].find_elements("css selector", ".candidate")
    assert "Show.S01E01.1080p.WEB.h264-BBB" in first[0].text and "best" in first[0].text.lower()
    assert "Show.S01E01.720p.HDTV.x264-AAA" in first[1].text
    assert b.driver.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    b.shot("search-season")
    violations = [f"{v['id']}: {v['help']}" for v in b.axe()]
    assert not violations, violations

    b.click_text("Grab season")
    b.wait(lambda: b.all("[data-testid=grabbed]"), what="the batch made")
    grabbed = b.css("[data-testid=grabbed]").text
    assert "Show S01" in grabbed and "2 downloads added" in grabbed and "E03" in grabbed
    b.css("[data-testid=grabbed] a").click()
    b.wait(lambda: "#/batch/" in b.driver.current_url and len(b.all("tbody tr")) == 2, what="the batch's downloads")
    b.wait(lambda: sum("completed" in r.text.lower() for r in b.all("tbody tr")) == 2, timeout=90,
           what="both downloads completed")
    # Filed where a media library expects them, by the metadata smart grab gave each download.
    batch_id = b.driver.current_url.rsplit("/", 1)[-1]
    tasks = runtime.http.get(f"{runtime.api}/batches/{batch_id}", timeout=10).json()["tasks"]
    assert sorted(t["key"] for t in tasks) == ["Show (2008)/Season 01/Show - S01E01.mkv",
                                               "Show (2008)/Season 01/Show - S01E02.mkv"]
    assert not b.problems(), b.problems()
