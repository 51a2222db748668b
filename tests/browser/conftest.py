"""Browser tests: Debian's Chromium (headless) driven by Selenium against the real local runtime.

One runtime per module (over an emulator that outlives it, so a test can restart the runtime
under an open page); each browser gets a fresh profile. `make test` installs chromium and
chromium-driver when they are missing.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from local_runtime.emulator.server import start_emulator
from tests.support.origin import Origin
from tests.support.ports import free_port
from tests.support.runtime import ROOT, RuntimeProcess

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
PHONE = (360, 780)
DESKTOP = (1366, 900)
TOKEN_SECONDS = 30


class Browser:
    """One Chromium with its own profile (its own localStorage: its own signed-in user)."""

    def __init__(self, base: str, size: tuple[int, int] = DESKTOP) -> None:
        if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
            raise AssertionError("chromium and chromium-driver are needed: `make test` installs them (apt-get)")
        self.base = base
        self.profile = tempfile.mkdtemp(prefix="haul-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                    f"--user-data-dir={self.profile}", f"--window-size={size[0]},{size[1]}"):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver: WebDriver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        self.driver.set_script_timeout(30)
        self.console: list[dict[str, Any]] = []

    def open(self, route: str = "") -> None:
        self.driver.get(self.base + (f"#/{route}" if route else ""))

    def go(self, route: str) -> None:
        """Navigate inside the app (no reload): the hash router."""
        self.driver.execute_script("location.hash = arguments[0]", f"#/{route}")

    def wait(self, condition: Callable[[], Any], timeout: float = 30, what: str = "the page") -> Any:
        def probe(_: Any) -> Any:
            try:
                return condition()
            except (StaleElementReferenceException, WebDriverException):
                return None

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1).until(probe)
        except Exception as exc:
            self.shot(f"failed-{what.replace(' ', '-')[:40]}")
            raise AssertionError(f"timed out waiting for {what}; console: {self.logs()}") from exc

    def css(self, selector: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, selector)

    def all(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def fill(self, selector: str, value: str) -> None:
        """Empty a field as a user does (select all, delete), then type ``value``. WebDriver's
        clear() fires no input event, so a controlled field kept its old value in the page's state
        and a re-render before the typing put it back: "Breaking BadAC/DC: Live"."""
        field = self.css(selector)
        field.send_keys(Keys.CONTROL, "a")
        field.send_keys(Keys.BACKSPACE)
        field.send_keys(value)

    def click_text(self, text: str, selector: str = "button") -> None:
        for element in self.all(selector):
            if element.text.strip() == text and element.is_displayed():
                element.click()
                return
        raise AssertionError(f"no {selector} reads {text!r}")

    def press(self, *keys: str) -> None:
        """Keys sent to whatever has the focus (as a keyboard would)."""
        ActionChains(self.driver).send_keys(*keys).perform()

    def focused(self, selector: str) -> bool:
        return bool(self.driver.execute_script(
            "return !!document.activeElement && document.activeElement.matches(arguments[0])", selector))

    def tab_to(self, selector: str, limit: int = 150, back: bool = False) -> None:
        """Tab (or Shift+Tab) until the focus is on ``selector``: how a keyboard user gets there."""
        for _ in range(limit):
            if self.focused(selector):
                return
            self.press(*((Keys.SHIFT, Keys.TAB) if back else (Keys.TAB,)))
        raise AssertionError(f"{limit} presses of Tab never reached {selector}")

    def sign_in(self, user: str, password: str, timeout: float = 60) -> None:
        self.open()
        self.wait(lambda: self.css("#auth-user"), what="the sign-in form")
        self.fill("#auth-user", user)
        self.fill("#auth-password", password)
        self.css("form.auth-card button[type=submit]").click()
        self.wait(lambda: self.css(".conn[data-state=live]"), timeout, what="the live connection")

    def logs(self) -> list[dict[str, Any]]:
        try:
            self.console.extend(self.driver.get_log("browser"))  # type: ignore[attr-defined]
        except WebDriverException:
            pass
        return self.console

    def problems(self) -> list[str]:
        """Script errors and Content-Security-Policy violations logged so far."""
        return [e["message"] for e in self.logs() if e["level"] == "SEVERE"
                and ("Content Security Policy" in e["message"] or "Uncaught" in e["message"])]

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the current page."""
        if not self.driver.execute_script("return !!window.axe"):
            # Injected by the test (not served by Haul): WebDriver scripts are not subject to the CSP.
            self.driver.execute_script(AXE.read_text(encoding="utf-8"))
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)), "
            "e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}])));"
        )
        return [v for v in json.loads(result) if v.get("impact") in ("serious", "critical")]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def resize(self, size: tuple[int, int]) -> None:
        self.driver.set_window_size(*size)

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def backend() -> Iterator[str]:
    """An emulator that outlives the runtime (as LocalStack would)."""
    port = free_port()
    server = start_emulator("127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="module")
def runtime(backend: str, request: pytest.FixtureRequest) -> Iterator[RuntimeProcess]:
    # A fresh install: no admin until the first test creates one in the page. Each module has a
    # stage (tables, queues, bucket) of its own: emulators started in one pytest process share
    # moto's state, and `make test` may run several browser modules in one worker.
    module = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_").replace("_", "-")
    stage = "browser" if module == "webapp" else f"br-{module}"
    rt = RuntimeProcess(stage, {"HAUL_ADMIN_USER": "", "HAUL_ADMIN_PASSWORD": "", "HAUL_ALLOW_PRIVATE_NETWORKS": "true",
                                "HAUL_WORKER_PROCESSES": "1",
                                # Short tokens: the page refreshes its token silently while the tests run.
                                "HAUL_ACCESS_TOKEN_SECONDS": str(TOKEN_SECONDS)},
                        aws_endpoint=backend).start(timeout=120)
    yield rt
    rt.stop()


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as server:
        yield server


@pytest.fixture(scope="module")
def browser(runtime: RuntimeProcess) -> Iterator[Browser]:
    b = Browser(f"http://127.0.0.1:{runtime.api_port}/")
    yield b
    b.close()
