"""The web app in a real headless Chromium against the real local runtime and loopback origins.

The tests run in order over one runtime: the first creates the admin in the page (first run).
"""

from __future__ import annotations

import functools
import os
from typing import Any

import requests
from selenium.common.exceptions import NoAlertPresentException

from tests.support.auth import login
from tests.support.origin import Origin, Resource
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess

from .conftest import DESKTOP, PHONE, Browser

MIB = 1024 * 1024
XSS = "<img src=x onerror=alert(1)>"


def admin(rt: RuntimeProcess) -> requests.Session:
    s = requests.Session()
    s.headers.update(login(rt.api, ADMIN_USER, ADMIN_PASSWORD))
    return s


def row(b: Browser, name: str) -> Any:
    for r in b.all("tr.row"):
        if name in r.text:
            return r
    return None


def row_progress(b: Browser, name: str) -> float | None:
    r = row(b, name)
    if r is None:
        return None
    return float(r.find_element("css selector", "[role=progressbar]").get_attribute("aria-valuenow"))


def row_state(b: Browser, name: str) -> str | None:
    r = row(b, name)
    return r.get_attribute("data-state") if r is not None else None  # type: ignore[attr-defined]


def test_first_run_setup_then_add_and_watch_it_finish_live(browser: Browser, runtime: RuntimeProcess,
                                                           origin: Origin) -> None:
    data = os.urandom(6 * MIB)
    origin.add("/live.bin", Resource(data=data, throttle_bps=2 * MIB))
    b = browser
    b.open()
    b.wait(lambda: "first administrator" in b.text(), what="the first-run setup")
    b.fill("#auth-user", ADMIN_USER)
    b.fill("#auth-password", ADMIN_PASSWORD)
    b.fill("#auth-confirm", ADMIN_PASSWORD)
    b.css("form.auth-card button[type=submit]").click()
    b.wait(lambda: b.css(".conn[data-state=live]"), what="the shell, live")
    b.driver.execute_script("window.__sameDocument = 'yes'")  # gone if the page reloads

    b.css("a[href='#/add']").click()
    b.wait(lambda: b.css("#add-urls"), what="the add form")
    b.fill("#add-urls", origin.url("/live.bin"))
    b.css("form.panel button[type=submit]").click()
    b.wait(lambda: "Added" in b.text(), what="the line's outcome")
    b.go("downloads")
    b.wait(lambda: row(b, "live.bin"), what="the row")
    seen: set[float] = set()

    def finished() -> bool:
        value = row_progress(b, "live.bin")
        if value is not None:
            seen.add(value)
        return value == 100 and row_state(b, "live.bin") == "completed"

    b.wait(finished, 90, "100 % live")
    assert any(0 < v < 100 for v in seen), f"no progress between 0 and 100 was shown: {sorted(seen)}"
    assert b.driver.execute_script("return window.__sameDocument") == "yes", "the page was reloaded"

    row(b, "live.bin").find_element("css selector", "a.name").click()  # type: ignore[attr-defined]
    link = b.wait(lambda: b.css("a.file-link"), what="the file link")
    href = link.get_attribute("href")
    assert requests.get(href, timeout=30).content == data
    assert not b.problems()


def test_pause_and_resume_mid_download(browser: Browser, runtime: RuntimeProcess, origin: Origin) -> None:
    data = os.urandom(6 * MIB)
    origin.add("/pausable.bin", Resource(data=data, throttle_bps=MIB))
    b = browser
    task = admin(runtime).post(f"{runtime.api}/downloads", json={"url": origin.url("/pausable.bin")}, timeout=10).json()
    b.go("downloads")
    b.wait(lambda: (row_progress(b, "pausable.bin") or 0) > 0, 60, "progress above 0")
    row(b, "pausable.bin").find_element("css selector", ".act-pause").click()  # type: ignore[attr-defined]
    b.wait(lambda: row_state(b, "pausable.bin") == "paused", 30, "paused")
    paused_at = row_progress(b, "pausable.bin")
    assert paused_at is not None and paused_at < 100
    row(b, "pausable.bin").find_element("css selector", ".act-resume").click()  # type: ignore[attr-defined]
    b.wait(lambda: row_state(b, "pausable.bin") == "completed", 90, "completed after resume")
    done = admin(runtime).get(f"{runtime.api}/downloads/{task['id']}", timeout=10).json()
    assert runtime.object_bytes(done["key"]) == data
    assert not b.problems()


def test_bulk_action_on_three_selected_rows(browser: Browser, runtime: RuntimeProcess, origin: Origin) -> None:
    s = admin(runtime)
    s.post(f"{runtime.api}/queue/stop", timeout=10).raise_for_status()  # they stay queued
    try:
        for n in range(3):
            origin.add(f"/bulk{n}.bin", Resource(data=b"x" * 1000))
            s.post(f"{runtime.api}/downloads", json={"url": origin.url(f"/bulk{n}.bin")}, timeout=10).raise_for_status()
        b = browser
        b.go("downloads")
        b.wait(lambda: all(row_state(b, f"bulk{n}.bin") == "queued" for n in range(3)), 30, "three queued rows")
        for n in range(3):
            row(b, f"bulk{n}.bin").find_element("css selector", ".c-select input").click()  # type: ignore[attr-defined]
        b.wait(lambda: "3 selected" in b.css(".bulkbar").text, what="the bulk bar")
        b.click_text("Pause", ".bulkbar button")
        b.wait(lambda: all(row_state(b, f"bulk{n}.bin") == "paused" for n in range(3)), 30, "three paused rows")
        assert not b.problems()
    finally:
        s.post(f"{runtime.api}/queue/start", timeout=10).raise_for_status()


def test_settings_validation_error_is_shown_next_to_the_field(browser: Browser) -> None:
    b = browser
    b.go("settings")
    field = b.wait(lambda: b.css("input[name='transfer.part_size']"), what="the settings form")
    field.clear()
    field.send_keys("12")
    message = b.wait(lambda: b.css("#set-transfer-part_size-error"), what="the inline message")
    assert message.text.strip(), "the message is empty"
    assert b.css("input[name='transfer.part_size']").get_attribute("aria-invalid") == "true"
    assert not b.css(".settings button[type=submit]").is_enabled()
    assert not b.problems()


def test_strings_from_downloads_are_text_never_html(browser: Browser, runtime: RuntimeProcess, origin: Origin) -> None:
    origin.add("/xss.bin", Resource(data=b"<script>alert(1)</script>"))
    b = browser
    b.go("add")
    b.wait(lambda: b.css("#add-urls"), what="the add form")
    b.fill("#add-urls", origin.url("/xss.bin"))
    b.fill("#add-filename", XSS)
    b.fill("#add-batch", XSS)  # a batch name is kept as typed
    b.fill("#add-category", XSS)
    b.css("form.panel button[type=submit]").click()
    b.wait(lambda: "Added" in b.text() or "Line 1" in b.text(), what="the outcome")
    b.go("downloads")
    b.wait(lambda: XSS in b.text(), what="the name shown as text")
    for route in ("downloads", "batches"):
        b.go(route)
        b.wait(lambda: XSS in b.text(), what=f"the text on {route}")
        assert not b.driver.execute_script("return document.querySelectorAll('main img').length")
    try:
        b.driver.switch_to.alert.dismiss()
        raise AssertionError("a script from a download's strings ran")
    except NoAlertPresentException:
        pass
    assert not b.problems()


def test_two_users_never_see_each_others_downloads(runtime: RuntimeProcess, origin: Origin) -> None:
    s = admin(runtime)
    origin.add("/alice.bin", Resource(data=b"a" * 100))
    origin.add("/bob.bin", Resource(data=b"b" * 100))
    for user in ("alice", "bob"):
        s.post(f"{runtime.api}/users", json={"username": user, "password": f"{user} password 1", "role": "user"},
               timeout=10).raise_for_status()
    base = f"http://127.0.0.1:{runtime.api_port}/"
    alice, bob = Browser(base), Browser(base)
    try:
        alice.sign_in("alice", "alice password 1")
        bob.sign_in("bob", "bob password 1")
        requests.post(f"{runtime.api}/downloads", json={"url": origin.url("/alice.bin")},
                      headers=login(runtime.api, "alice", "alice password 1"), timeout=10).raise_for_status()
        alice.wait(lambda: row(alice, "alice.bin"), what="alice's download")
        bob.go("add")
        bob.wait(lambda: bob.css("#add-urls"), what="bob's add form")
        bob.fill("#add-urls", origin.url("/bob.bin"))
        bob.css("form.panel button[type=submit]").click()
        bob.go("downloads")
        bob.wait(lambda: row(bob, "bob.bin"), what="bob's download")
        alice.wait(lambda: row_state(alice, "alice.bin") == "completed", 60, "alice's completed")
        bob.wait(lambda: row_state(bob, "bob.bin") == "completed", 60, "bob's completed")
        assert "bob.bin" not in alice.text() and "alice.bin" not in bob.text()
        assert "live.bin" not in alice.text()  # nor the admin's
        assert not alice.problems() and not bob.problems()
    finally:
        alice.close()
        bob.close()


def test_runtime_restart_under_an_open_page_reconnects_and_shows_the_truth(
        browser: Browser, runtime: RuntimeProcess, origin: Origin) -> None:
    b = browser
    b.go("downloads")
    b.wait(lambda: b.css(".conn[data-state=live]"), what="live")
    runtime.stop()
    b.wait(lambda: b.css(".conn[data-state=reconnecting]"), 30, "the reconnecting state")
    # While it was down, something changed: a download was deleted behind the page's back...
    runtime.start()
    s = admin(runtime)
    listed = s.get(f"{runtime.api}/downloads", params={"q": "bulk0"}, timeout=10).json()["tasks"]
    s.delete(f"{runtime.api}/downloads/{listed[0]['id']}", timeout=10).raise_for_status()
    origin.add("/after.bin", Resource(data=b"c" * 100))
    s.post(f"{runtime.api}/downloads", json={"url": origin.url("/after.bin")}, timeout=10).raise_for_status()
    b.wait(lambda: b.css(".conn[data-state=live]"), 60, "live again")
    b.wait(lambda: row(b, "after.bin") and row(b, "bulk0.bin") is None, 30, "the truth after the restart")
    assert not b.problems()


def themed(b: Browser, theme: str) -> bool:
    return bool(b.driver.execute_script("return document.documentElement.dataset.theme") == theme)


PAGES = ["downloads", "add", "batches", "queue", "stats", "activity", "feeds", "jobs", "notifications", "health",
         "settings", "users", "account"]


def test_every_page_is_accessible_and_screenshots(browser: Browser, runtime: RuntimeProcess) -> None:
    b = browser
    found: dict[str, list[str]] = {}
    first = admin(runtime).get(f"{runtime.api}/downloads", params={"q": "live"}, timeout=10).json()["tasks"][0]
    routes = [*PAGES, f"download/{first['id']}"]
    for theme in ("light", "dark"):
        b.driver.execute_script("localStorage.setItem('haul.theme', arguments[0])", theme)
        b.driver.refresh()
        b.wait(functools.partial(themed, b, theme), what=theme)
        b.wait(lambda: b.css(".conn[data-state=live]"), what="live")
        for size_name, size in (("desktop", DESKTOP), ("phone", PHONE)):
            b.resize(size)
            for route in routes:
                b.go(route)
                b.wait(lambda: b.css(".page-title") and not b.all("main .loading"), what=f"{route} loaded")
                name = route.split("/")[0]
                b.shot(f"{name}-{theme}-{size_name}")
                if theme == "light" and size_name == "desktop" or size_name == "phone" and theme == "dark":
                    violations = b.axe()
                    if violations:
                        found[f"{route} {theme} {size_name}"] = [f"{v['id']}: {v['help']}" for v in violations]
        b.resize(DESKTOP)
    b.driver.execute_script("localStorage.removeItem('haul.theme')")
    assert not found, found
    assert not b.problems()
