"""The Jobs, Notifications and Health views in headless Chromium against a fresh local runtime:
the first admin made through the setup wizard's API, a job scheduled with the cron helper's
next runs shown and run now (its history row appears), a notification target added and tested
against a loopback receiver, the health report; axe-core on each page."""

from __future__ import annotations

import requests
from selenium.webdriver.common.keys import Keys

from tests.support.receiver import Receiver
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess

from .conftest import Browser


def press(b: Browser, selector: str) -> None:
    """Click a button after scrolling it to the middle (the sticky top bar covers the top)."""
    element = b.css(selector)
    b.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def type_into(b: Browser, selector: str, value: str) -> None:
    """Replace a controlled input's text as a person would (select all, type)."""
    field = b.css(selector)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(value)


def test_jobs_notifications_and_health_views(browser: Browser, runtime: RuntimeProcess) -> None:
    status = requests.get(f"{runtime.api}/setup/status", timeout=10).json()
    assert status["open"] and "admin" in status["needs"]
    b = browser
    # The first-run page lists what the install needs and tries a notification before any admin.
    with Receiver() as first:
        b.open()
        b.wait(lambda: b.css(".setup-checks") and "Storage answers" in b.css(".setup-checks").text,
               what="the setup checks")
        type_into(b, "#setup-target-url", f"json://127.0.0.1:{first.port}/")
        b.click_text("Send a test")
        b.wait(lambda: "Sent:" in b.css(".setup-checks").text, what="the test's answer")
        assert first.received and first.received[0].json()["title"] == "Haul test notification"
        b.wait(lambda: b.css(".setup-checks li[data-done='yes']") and "A notification" in " ".join(
            li.text for li in b.all(".setup-checks li[data-done='yes']")), what="the notification step done")
        setup_page = [f"{v['id']}: {v['help']}" for v in b.axe()]
    made = requests.post(f"{runtime.api}/setup/complete", json={"username": ADMIN_USER, "password": ADMIN_PASSWORD},
                         timeout=10)
    assert made.status_code == 201, made.text
    assert requests.post(f"{runtime.api}/setup/complete", json={"username": "x", "password": ADMIN_PASSWORD},
                         timeout=10).status_code == 403
    b.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    violations: dict[str, list[str]] = {"setup": setup_page}

    # Jobs: the cron helper shows the next 5 runs in the job's time zone; schedule; run now.
    b.go("jobs")
    b.wait(lambda: b.css("#job-name"), what="the new-job form")
    type_into(b, "#job-name", "nightly retry")
    type_into(b, "#job-cron", "30 2 * * *")
    type_into(b, "#job-tz", "Europe/Berlin")
    # Five local times at 02:30 (03:00 on a spring-forward night), with Berlin's offset.
    b.wait(lambda: len(b.all(".cron-helper li")) == 5 and all(
        li.text[11:16] in ("02:30", "03:00") and li.text.endswith(("+01:00", "+02:00"))
        for li in b.all(".cron-helper li")), what="the next 5 runs")
    press(b, "form.panel button[type=submit]")
    b.wait(lambda: "nightly retry" in b.css(".table-wrap").text, what="the job's row")
    press(b, "button[aria-label='Run now: nightly retry']")
    b.wait(lambda: any("skipped" in r.text.lower() and "no failed downloads" in r.text for r in b.all(".panel tr")),
           timeout=60, what="the run in the history")
    violations["jobs"] = [f"{v['id']}: {v['help']}" for v in b.axe()]

    # Notifications: an Apprise json:// target on loopback, tested from the page.
    with Receiver() as hub:
        b.go("notifications")
        b.wait(lambda: b.css("#nt-name"), what="the new-target form")
        type_into(b, "#nt-name", "json hub")
        type_into(b, "#nt-url", f"json://127.0.0.1:{hub.port}/hook")
        press(b, "form.panel button[type=submit]")
        b.wait(lambda: b.all("button[aria-label='Send a test to json hub']"), what="the target's row")
        assert "json://127.0.0.1" in b.text() and "/hook" not in b.css(".table-wrap").text
        press(b, "button[aria-label='Send a test to json hub']")
        b.wait(lambda: "Test sent to json hub" in b.text(), what="the test's toast")
        assert hub.received and hub.received[0].json()["title"] == "Haul test notification"
        b.wait(lambda: "delivered" in b.text().lower(), what="the delivery")
    violations["notifications"] = [f"{v['id']}: {v['help']}" for v in b.axe()]

    # Health: every dependency with its status.
    b.go("health")
    b.wait(lambda: "Haul is" in b.text() and "dynamodb" in b.text(), what="the health report")
    for name in ("dynamodb", "s3", "sqs", "stream", "workers", "notify_dlq"):
        assert name in b.text()
    violations["health"] = [f"{v['id']}: {v['help']}" for v in b.axe()]
    b.shot("automation-health")
    assert not any(violations.values()), violations
    assert not b.problems()
