"""Metadata and naming in a real headless Chromium against the real local runtime (issue #18):
a download's metadata in the list and on its page, a guess taken as metadata with one click,
and the Naming page's live preview of the resulting key following templates and categories
as they are typed, a bad template named next to the preview, saving, axe-core on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.support.ui import Select

from tests.support.auth import session
from tests.support.origin import Origin, Resource
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess

from .conftest import Browser

SHOW = {"tmdb_id": 1396, "title": "Breaking Bad", "year": 2008, "season": 1, "episode": 2, "kind": "tv"}


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    """A runtime of its own over its own embedded emulator, with the admin made at start."""
    rt = RuntimeProcess("browser-naming", {"HAUL_ALLOW_PRIVATE_NETWORKS": "true", "HAUL_WORKER_PROCESSES": "1"})
    yield rt.start(timeout=120)
    rt.stop()


def violations(b: Browser) -> list[str]:
    return [f"{v['id']}: {v['help']}" for v in b.axe()]


def test_metadata_on_downloads_and_naming_with_a_live_preview(browser: Browser, runtime: RuntimeProcess,
                                                              origin: Origin) -> None:
    origin.add("/bb.mkv", Resource(data=b"b" * 2000))
    origin.add("/Show.Name.S03E04.1080p.WEB-GRP.mkv", Resource(data=b"s" * 1000))
    api = session(runtime.api, ADMIN_USER, ADMIN_PASSWORD)
    tagged = api.post(
        f"{runtime.api}/downloads", json={"url": origin.url("/bb.mkv"), "metadata": SHOW}, timeout=10
    ).json()
    bare = api.post(f"{runtime.api}/downloads", json={"url": origin.url("/Show.Name.S03E04.1080p.WEB-GRP.mkv")},
                    timeout=10).json()
    b = browser
    b.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    b.wait(lambda: "Breaking Bad (2008) · S01E02" in b.text(), what="the metadata line in the list")

    b.go(f"download/{tagged['id']}")
    b.wait(lambda: "TMDB id" in b.text() and "1396" in b.text(), what="the metadata panel")
    assert "Breaking Bad (2008)/Season 01/Breaking Bad - S01E02.mkv" in b.text()  # "Stored as"
    # Renamed once completed: the object moves (server-side copy + delete).
    b.wait(lambda: api.get(f"{runtime.api}/downloads/{tagged['id']}", timeout=10).json()["state"] == "completed",
           what="the tagged download to complete")
    b.fill("#rn-naming", "{nope}.{ext}")
    b.css("form.rename button[type=submit]").click()
    b.wait(lambda: b.all("form.rename .field-error") and "is not a field" in b.css("form.rename .field-error").text,
           what="the bad template named under its field")
    b.fill("#rn-naming", "{title} - S{season:02}E{episode:02}.{ext}")
    b.fill("#rn-path", "TV")
    b.css("form.rename button[type=submit]").click()
    moved = "TV/Breaking Bad - S01E02.mkv"
    b.wait(lambda: moved in b.text(), what="the new key on the page")
    assert api.get(f"{runtime.api}/downloads/{tagged['id']}", timeout=10).json()["key"] == moved
    b.wait(lambda: "server-side copy" in b.text(), what="the move in the download's activity")

    b.go(f"download/{bare['id']}")
    b.wait(lambda: b.css("button.use-guess"), what="the guess and its button")
    assert "Guessed from the file name" in b.text() and "Show Name" in b.text()
    b.css("button.use-guess").click()
    b.wait(
        lambda: "Guessed from the file name" not in b.text() and not b.all("button.use-guess"), what="the guess taken"
    )
    taken = api.get(f"{runtime.api}/downloads/{bare['id']}", timeout=10).json()
    assert taken["metadata"] == {"title": "Show Name", "season": 3, "episode": 4, "kind": "tv"}

    b.css("a[href='#/naming']").click()
    b.wait(lambda: b.css(".naming-key").text == "Breaking Bad (2008)/Season 01/Breaking Bad - S01E02.mkv",
           what="the preview of the default episode template")
    b.fill("#tpl-tv", "{title}/S{season:02}/{episode:03} {title}.{ext}")
    b.wait(
        lambda: b.css(".naming-key").text == "Breaking Bad/S01/002 Breaking Bad.mkv",
        what="the preview following the edit",
    )
    b.fill("#tpl-tv", "{title.__class__}.{ext}")
    b.wait(lambda: b.all(".naming-problem") and "is not a field" in b.css(".naming-problem").text,
           what="the bad template named")
    b.fill("#tpl-tv", "{title}/S{season:02}/{episode:03} {title}.{ext}")
    b.fill("#pv-title", "AC/DC: Live")
    b.wait(
        lambda: b.css(".naming-key").text == "AC-DC - Live/S01/002 AC-DC - Live.mkv",
        what="a title cleaned, not a folder",
    )
    b.css("button.add-category").click()
    b.wait(lambda: b.css("#cat-0-name"), what="a category row")
    b.fill("#cat-0-name", "anime")
    b.fill("#cat-0-path", "Anime")
    b.wait(
        lambda: "anime" in [o.text for o in b.all("#pv-category option")], what="the new category in the preview's list"
    )
    Select(b.css("#pv-category")).select_by_visible_text("anime")
    b.wait(
        lambda: b.css(".naming-key").text.startswith("Anime/AC-DC - Live/"), what="the category's folder in the preview"
    )
    assert not violations(b), violations(b)
    b.css("form button[type=submit]").click()
    b.wait(lambda: api.get(f"{runtime.api}/settings/naming", timeout=10).json()["categories"].get("anime"),
           what="the naming settings saved")
    saved = api.get(f"{runtime.api}/settings/naming", timeout=10).json()
    assert saved["categories"]["anime"] == {"path": "Anime", "template": None}
    assert saved["templates"]["tv"] == "{title}/S{season:02}/{episode:03} {title}.{ext}"
    assert not b.problems(), b.problems()


# Holds back the page's answer to the first preview asked for a title of "Slow" until the test lets
# it go (window.__releaseSlow), and says when the page has handled that answer (window.__slowHandled).
HOLD_SLOW = """
window.__slowAsked = false; window.__slowHandled = false;
const realFetch = window.fetch.bind(window);
let release; const gate = new Promise((r) => { release = r; }); window.__releaseSlow = () => release();
window.fetch = async (url, init) => {
  const slow = String(url).includes('/settings/naming/preview') && init && init.body && !window.__slowAsked
    && JSON.parse(init.body).metadata.title === 'Slow';
  if (!slow) return realFetch(url, init);
  window.__slowAsked = true;
  const answer = await realFetch(url, init);
  await gate;
  // The page reads the body, parses it and renders in promise callbacks (Preact renders in a
  // microtask); two timer turns after the body is read, all of that has run.
  const text = answer.text.bind(answer);
  answer.text = async () => {
    const body = await text();
    setTimeout(() => setTimeout(() => { window.__slowHandled = true; }, 0), 0);
    return body;
  };
  return answer;
};
"""


def test_a_late_answer_to_an_older_edit_does_not_replace_the_newest_preview(runtime: RuntimeProcess) -> None:
    b = Browser(f"http://127.0.0.1:{runtime.api_port}/")  # a page of its own, whatever the other test left
    try:
        b.sign_in(ADMIN_USER, ADMIN_PASSWORD)
        b.go("naming")
        b.wait(lambda: b.css(".naming-key").text.endswith(".mkv"), what="the first preview")
        b.driver.execute_script(HOLD_SLOW)
        b.fill("#pv-title", "Slow")
        b.wait(lambda: b.driver.execute_script("return window.__slowAsked"), what="the preview for 'Slow' asked")
        b.fill("#pv-title", "Fast")
        b.wait(lambda: b.css(".naming-key").text.startswith("Fast"), what="the preview for 'Fast'")
        b.driver.execute_script("window.__releaseSlow()")
        b.wait(lambda: b.driver.execute_script("return window.__slowHandled"), what="the held answer read by the page")
        assert b.css(".naming-key").text.startswith("Fast"), b.css(".naming-key").text
    finally:
        b.close()
