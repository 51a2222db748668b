"""The Library view in a real headless Chromium against the real local runtime, a fake TMDB on
loopback (tests/support/providers.py) and a loopback origin: a series and a film completed with
metadata, the 503 naming tmdb.api_key in words, "Write NFO" for the series, its XML shown as text
(a hostile TMDB title stays text), "Write 1 missing NFO" for the film, axe-core on the page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.origin import Origin, Resource
from tests.support.providers import TMDB_KEY, Movie, ProviderServer, Show
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess
from tests.support.wait import wait_for

from .conftest import Browser

HOSTILE = "Show <img src=x onerror=alert(1)> & Co"


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    """A runtime of its own over its own embedded emulator, with the admin made at start."""
    rt = RuntimeProcess("browser-library", {"HAUL_ALLOW_PRIVATE_NETWORKS": "true", "HAUL_WORKER_PROCESSES": "1"})
    yield rt.start(timeout=120)
    rt.stop()


@pytest.fixture(scope="module")
def fake() -> Iterator[ProviderServer]:
    with ProviderServer() as server:
        server.shows[1396] = Show(1396, HOSTILE, "2008-01-20", {1: ["Pilot", "Second"]})
        server.movies[603] = Movie(603, "Film", "1999-03-31")
        yield server


def completed(runtime: RuntimeProcess, origin: Origin) -> None:
    """Two episodes and a film downloaded with their metadata, through the API."""
    ids = []
    for name, meta in (("e1", {"episode": 1}), ("e2", {"episode": 2}), ("film", None)):
        origin.add(f"/{name}.mkv", Resource(data=name.encode() * 500))
        metadata: dict[str, Any] = (
            {"tmdb_id": 603, "title": "Film", "year": 1999, "kind": "movie"}
            if meta is None
            else {"tmdb_id": 1396, "title": "Show", "year": 2008, "season": 1, "kind": "tv", **meta}
        )
        made = runtime.http.post(f"{runtime.api}/downloads", json={"url": origin.url(f"/{name}.mkv"),
                                                                   "metadata": metadata}, timeout=10)
        assert made.status_code == 201, made.text
        ids.append(made.json()["id"])

    def done() -> bool:
        states = [runtime.http.get(f"{runtime.api}/downloads/{i}", timeout=10).json()["state"] for i in ids]
        assert "failed" not in states, states
        return all(s == "completed" for s in states)

    wait_for(done, 90, 0.3, "the 3 downloads to complete")


def row(b: Browser, tmdb_id: int) -> Any:
    return b.css(f"[data-testid=library-row][data-tmdb='{tmdb_id}']")


def has_nfo(b: Browser, tmdb_id: int) -> bool:
    return bool(row(b, tmdb_id).find_element("css selector", ".badge").get_attribute("data-state") == "completed")


def test_write_and_read_nfos_from_the_library(browser: Browser, runtime: RuntimeProcess, origin: Origin,
                                              fake: ProviderServer) -> None:
    completed(runtime, origin)
    b = browser
    b.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    b.css("a[href='#/library']").click()
    b.wait(lambda: len(b.all("[data-testid=library-row]")) == 2, what="the series and the film")
    assert "Show (2008)" in row(b, 1396).text and not has_nfo(b, 1396) and not has_nfo(b, 603)
    assert "Show (2008)/" in row(b, 1396).text and "Film (1999)/" in row(b, 603).text

    row(b, 1396).find_element("css selector", "button").click()
    b.wait(lambda: "tmdb.api_key" in b.css(".error-note").text, what="the missing setting named in words")

    answer = runtime.http.patch(f"{runtime.api}/settings/providers", json={
        "tmdb": {"api_key": TMDB_KEY, "base_url": fake.tmdb_url, "image_base_url": fake.image_url}}, timeout=10)
    assert answer.status_code == 200, answer.text
    row(b, 1396).find_element("css selector", "button").click()
    b.wait(lambda: has_nfo(b, 1396), what="the series' NFO written")
    assert "✓ poster" in row(b, 1396).text and "✓ logo" in row(b, 1396).text

    b.click_text("Show NFO")
    b.wait(lambda: b.all("[data-testid=library-nfo] pre"), what="the NFO's XML")
    shown = b.css("[data-testid=library-nfo] pre").text
    assert "<tvshow>" in shown and "<title>Show &lt;img src=x onerror=alert(1)&gt; &amp; Co</title>" in shown
    assert b.driver.execute_script("return document.querySelectorAll('img[src=x]').length") == 0
    violations = [f"{v['id']}: {v['help']}" for v in b.axe()]
    assert not violations, violations
    b.shot("library")

    b.click_text("Write 1 missing NFO")
    b.wait(lambda: b.all("[data-testid=library-batch]"), what="the batch's answer")
    assert b.css("[data-testid=library-batch]").text.startswith("1 written, 0 skipped, 0 failed")
    b.wait(lambda: has_nfo(b, 603), what="the film's NFO shown")
    nfo = runtime.object_bytes("Film (1999)/movie.nfo")
    assert b"<movie>" in nfo and b"<title>Film</title>" in nfo
    assert not b.problems(), b.problems()
