"""The web app in a real headless Chromium against the real local runtime and loopback origins.

The tests run in order over one runtime: the first creates the admin in the page (first run).
"""

from __future__ import annotations

import functools
import os
import re
from typing import Any

import requests
from selenium.common.exceptions import NoAlertPresentException

from tests.support.auth import login
from tests.support.origin import Origin, Resource
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess

from .conftest import DESKTOP, PHONE, TOKEN_SECONDS, Browser

MIB = 1024 * 1024
XSS = "<img src=x onerror=alert(1)>"


def admin(rt: RuntimeProcess, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> requests.Session:
    """The admin (or ``user``) over HTTP; logs in again when its short-lived token expired (TOKEN_SECONDS)."""
    s = requests.Session()
    s.headers.update(login(rt.api, user, password))

    def renew(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or response.request.headers.get("X-Renewed"):
            return response
        s.headers.update(login(rt.api, user, password))
        again = response.request.copy()
        again.headers["Authorization"] = str(s.headers["Authorization"])
        again.headers["X-Renewed"] = "1"
        return s.send(again, timeout=30)

    s.hooks["response"].append(renew)
    return s


def page_token(b: Browser) -> str:
    return str(b.driver.execute_script("return JSON.parse(localStorage.getItem('haul.session')).access_token"))


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
    return r.get_attribute("data-state") if r is not None else None


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
    b.driver.execute_script("window.__firstToken = arguments[0]", page_token(b))

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

    row(b, "live.bin").find_element("css selector", "a.name").click()
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
    row(b, "pausable.bin").find_element("css selector", ".act-pause").click()
    b.wait(lambda: row_state(b, "pausable.bin") == "paused", 30, "paused")
    paused_at = row_progress(b, "pausable.bin")
    assert paused_at is not None and paused_at < 100
    row(b, "pausable.bin").find_element("css selector", ".act-resume").click()
    toasts: list[str] = []

    def completed_with_a_toast() -> bool:
        toasts.extend(t.text for t in b.all(".toast"))  # a toast stays 7 s: collected while waiting
        return row_state(b, "pausable.bin") == "completed" and any(
            "Download complete" in t and "pausable.bin" in t for t in toasts)

    b.wait(completed_with_a_toast, 90, "completed after resume, with a toast")
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
            row(b, f"bulk{n}.bin").find_element("css selector", ".c-select input").click()
        b.wait(lambda: "3 selected" in b.css(".bulkbar").text, what="the bulk bar")
        b.click_text("Pause", ".bulkbar button")
        b.wait(lambda: all(row_state(b, f"bulk{n}.bin") == "paused" for n in range(3)), 30, "three paused rows")
        assert not b.problems()
    finally:
        s.post(f"{runtime.api}/queue/start", timeout=10).raise_for_status()


def test_settings_validation_error_is_shown_next_to_the_field(browser: Browser) -> None:
    b = browser
    b.go("settings")
    b.wait(lambda: b.css("input[name='transfer.part_size']"), what="the settings form")
    b.fill("input[name='transfer.part_size']", "12")
    message = b.wait(lambda: b.css("#set-transfer-part_size-error"), what="the inline message")
    assert message.text.strip(), "the message is empty"
    assert b.css("input[name='transfer.part_size']").get_attribute("aria-invalid") == "true"
    assert not b.css(".settings button[type=submit]").is_enabled()
    assert not b.problems()


def test_an_api_key_is_made_with_the_password_again(browser: Browser, runtime: RuntimeProcess) -> None:
    """Issue #11, item 5, in the page: a wrong password is shown at its field; the right one
    makes a key that works and expires by default."""
    b = browser
    b.go("account")
    b.wait(lambda: b.css("#key-name"), what="the API key form")
    b.fill("#key-name", "browser script")
    b.fill("#key-password", "not my password")
    b.css("#key-password").submit()
    message = b.wait(lambda: b.css("#key-password-error"), what="the password's inline message")
    assert "wrong" in message.text
    b.fill("#key-password", ADMIN_PASSWORD)
    b.css("#key-password").submit()
    secret = b.wait(lambda: b.css(".notice .secret"), what="the new key, shown once").text.strip()
    me = requests.get(f"{runtime.api}/auth/me", headers={"X-API-Key": secret}, timeout=10)
    assert me.status_code == 200 and me.json()["username"] == ADMIN_USER
    keys = admin(runtime).get(f"{runtime.api}/auth/api-keys", timeout=10).json()["keys"]
    assert [k["expires_at"] is not None for k in keys if k["name"] == "browser script"] == [True]
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


def outcome(b: Browser, n: int) -> Any:
    return b.css(f".add-lines li:nth-child({n})")


def test_add_form_explains_each_line(browser: Browser, runtime: RuntimeProcess, origin: Origin) -> None:
    """Per-line outcomes: an invalid URL, a refused address (Haul's own port), a duplicate with a
    link to the download that exists, and one added."""
    origin.add("/fresh.bin", Resource(data=b"f" * 1000))
    existing = admin(runtime).get(f"{runtime.api}/downloads", params={"q": "live.bin"}, timeout=10).json()["tasks"][0]
    b = browser
    b.go("add")
    b.wait(lambda: b.css("#add-urls"), what="the add form")
    lines = ["not a url at all", f"http://127.0.0.1:{runtime.api_port}/api/v1/health", origin.url("/live.bin"),
             origin.url("/fresh.bin")]
    b.fill("#add-urls", "\n".join(lines))
    b.css("form.panel button[type=submit]").click()
    b.wait(lambda: len(b.all(".add-lines li")) == 4, what="four outcomes")
    states = [outcome(b, n).get_attribute("data-ok") for n in range(1, 5)]
    assert states == ["false", "false", "true", "true"], states
    invalid, refused = outcome(b, 1).text, outcome(b, 2).text
    assert "URL" in invalid or "url" in invalid, invalid
    assert invalid != refused and refused.split(lines[1])[-1].strip(), refused
    assert "Already there" in outcome(b, 3).text
    link = outcome(b, 3).find_element("css selector", "a")
    assert link.get_attribute("href").endswith(f"#/download/{existing['id']}")
    assert "Added" in outcome(b, 4).text
    assert not b.problems()


def test_keyboard_only_add_pause_and_resume(browser: Browser, runtime: RuntimeProcess, origin: Origin) -> None:
    from selenium.webdriver.common.keys import Keys

    origin.add("/keys.bin", Resource(data=os.urandom(8 * MIB), throttle_bps=256 * 1024))
    b = browser
    b.go("downloads")
    b.wait(lambda: b.css(".page-title"), what="the downloads page")
    b.driver.execute_script("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    b.tab_to("nav a[href='#/add']")
    b.press(Keys.ENTER)
    b.wait(lambda: b.css("#add-urls"), what="the add form")
    b.tab_to("#add-urls")
    b.press(origin.url("/keys.bin"))
    b.tab_to("form.panel button[type=submit]")
    b.press(Keys.ENTER)
    b.wait(lambda: "Added" in outcome(b, 1).text, what="added")
    b.tab_to("nav a[href='#/downloads']", back=True)
    b.press(Keys.ENTER)
    b.tab_to(".toolbar input[type=search]")
    b.press("keys.bin")
    b.wait(lambda: len(b.all("tr.row")) == 1 and row(b, "keys.bin"), what="the one row found")
    b.wait(lambda: row_state(b, "keys.bin") in ("queued", "downloading"), 30, "queued or downloading")
    b.tab_to("tr.row .act-pause")
    b.press(Keys.ENTER)
    b.wait(lambda: row_state(b, "keys.bin") == "paused", 30, "paused by keyboard")
    b.driver.execute_script("document.activeElement && document.activeElement.blur()")
    b.tab_to("tr.row .act-resume")
    b.press(Keys.ENTER)
    b.wait(lambda: row_state(b, "keys.bin") in ("queued", "downloading", "completed"), 30, "resumed by keyboard")
    task = row(b, "keys.bin").get_attribute("data-id")
    admin(runtime).post(f"{runtime.api}/downloads/{task}/cancel", timeout=10)  # frees the one worker
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


def test_wrong_password_lockout_own_password_change_and_an_ended_session_in_words(
        runtime: RuntimeProcess) -> None:
    s = admin(runtime)
    for user in ("dora", "carol"):
        s.post(f"{runtime.api}/users", json={"username": user, "password": f"{user} password 1", "role": "user"},
               timeout=10).raise_for_status()
    b = Browser(f"http://127.0.0.1:{runtime.api_port}/")
    try:
        b.open()
        b.wait(lambda: b.css("#auth-user"), what="the sign-in form")
        messages = []
        for _ in range(6):  # five wrong passwords, then a lock (even for the right one)
            b.fill("#auth-user", "dora")
            b.fill("#auth-password", "not dora's password")
            # The last answer's note is marked: the next one is a new element (the form clears it).
            b.driver.execute_script(
                "const n = document.querySelector('.auth-card .error-note'); if (n) n.dataset.old = '1'"
            )
            b.css("form.auth-card button[type=submit]").click()
            note = b.wait(lambda: b.css("form.auth-card .error-note:not([data-old])"), what="the answer")
            messages.append(note.text)
        assert "wrong username or password" in messages[0], messages
        assert re.search(r"Too many attempts.*Try again in \d+ s", messages[-1]), messages

        # Carol changes her password in the Account page: a wrong current one is said next to its
        # field; then the page goes on with the new login, and her other session ends.
        b.sign_in("carol", "carol password 1")
        other = login(runtime.api, "carol", "carol password 1")
        b.go("account")
        b.wait(lambda: b.css("#pw-current"), what="the password form")
        b.fill("#pw-current", "not it")
        b.fill("#pw-new", "carol password 2")
        b.fill("#pw-confirm", "carol password 2")
        b.css(".password button[type=submit]").click()
        assert b.wait(lambda: b.css("#pw-current-error").text, what="the field's message") == "is wrong"
        b.fill("#pw-current", "carol password 1")
        b.css(".password button[type=submit]").click()
        b.wait(lambda: any("Password changed" in t.text for t in b.all(".toast")), what="the toast")
        assert requests.get(f"{runtime.api}/auth/me", headers=other, timeout=10).status_code == 401
        b.wait(lambda: b.css(".conn[data-state=live]"), 30, "live again with the new login")
        b.go("downloads")
        b.wait(lambda: b.css(".page-title") and not b.all("main .loading"), what="downloads with the new login")
        assert "Sign in" not in b.text()

        # Her password changed elsewhere: this page's session has ended, and it says so.
        requests.post(f"{runtime.api}/auth/password", headers=login(runtime.api, "carol", "carol password 2"),
                      json={"current_password": "carol password 2", "new_password": "carol password 3"},
                      timeout=10).raise_for_status()
        b.go("activity")
        b.wait(lambda: re.search(r"Your session has (ended|expired)\. Sign in again\.", b.text()),
               what="the ended session in words")
        assert b.css("#auth-user")
        assert not b.problems()
    finally:
        b.close()


def test_the_token_is_refreshed_silently_while_the_page_is_open(browser: Browser, runtime: RuntimeProcess) -> None:
    b = browser
    assert b.driver.execute_script("return window.__sameDocument") == "yes", "the page was reloaded"
    first = b.driver.execute_script("return window.__firstToken")
    # Tokens last TOKEN_SECONDS here: the earlier tests took longer, or this waits for one.
    b.wait(lambda: page_token(b) != first, TOKEN_SECONDS * 3, "a refreshed token")
    assert requests.get(f"{runtime.api}/auth/me", headers={"Authorization": f"Bearer {first}"},
                        timeout=10).status_code == 401, "the first token should have expired by now"
    b.go("activity")
    b.wait(lambda: b.css(".page-title") and not b.all("main .loading"), what="the activity page")
    b.go("downloads")
    b.wait(lambda: row(b, "live.bin"), what="the downloads, still signed in")
    assert b.css(".conn[data-state=live]") and "Sign in" not in b.text()
    assert not b.problems()


def test_swagger_ui_login_and_try_it_out(browser: Browser) -> None:
    b = browser
    b.driver.get(f"{b.base}api/v1/docs")
    b.wait(lambda: b.css("#docs-user") and b.all(".opblock"), 60, "Swagger UI")
    b.fill("#docs-user", ADMIN_USER)
    b.fill("#docs-password", ADMIN_PASSWORD)
    b.css("#docs-login button[type=submit]").click()
    b.wait(lambda: "Signed in as admin" in b.css("#docs-who").text, what="signed in on the docs page")
    block = b.wait(lambda: next(e for e in b.all(".opblock-get") if e.find_elements(
        "css selector", "[data-path$='/auth/me']")), what="GET /auth/me")
    block.find_element("css selector", ".opblock-summary-control").click()
    b.wait(lambda: block.find_element("css selector", ".try-out__btn"), what="Try it out").click()
    b.wait(lambda: block.find_element("css selector", "button.execute"), what="Execute").click()
    status = b.wait(lambda: block.find_element("css selector", ".live-responses-table tbody .response-col_status"),
                    60, "the response")
    assert status.text.strip().startswith("200"), status.text
    assert '"admin"' in block.find_element("css selector", ".live-responses-table").text
    assert not b.problems()
    b.open()
    b.wait(lambda: b.css(".conn[data-state=live]"), 60, "back in the app")


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


PAGES = [
    "downloads",
    "add",
    "search",
    "batches",
    "queue",
    "stats",
    "activity",
    "feeds",
    "jobs",
    "notifications",
    "health",
    "providers",
    "settings",
    "users",
    "account",
]


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

