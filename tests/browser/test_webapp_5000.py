"""5,000 downloads in the web app's WebSocket store and list: a report (issue #14, "fast").

Not in `make test` (adding 5,000 downloads takes a minute or two on the shared machine): run it
with `make webapp-5000` (HAUL_WEBAPP_5000=1). It writes build/webapp-5000.json; the numbers are in
docs/performance.md. It asserts only what does not depend on the machine: the store holds all
5,000, the DOM one page of rows, a burst of 100 changes reaches every row without a reload.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.origin import Origin
from tests.support.runtime import ROOT, RuntimeProcess

from .conftest import Browser
from .test_webapp import admin

pytestmark = [pytest.mark.alone, pytest.mark.skipif(os.environ.get("HAUL_WEBAPP_5000") != "1",
                                                    reason="a report: make webapp-5000")]


@pytest.fixture(scope="module")
def runtime(backend: str) -> Iterator[RuntimeProcess]:
    rt = RuntimeProcess("many", {"HAUL_ALLOW_PRIVATE_NETWORKS": "true", "HAUL_WORKER_PROCESSES": "1"},
                        aws_endpoint=backend).start(timeout=120)
    yield rt
    rt.stop()


FRAMES = """
const done = arguments[arguments.length - 1];
const [action, arg] = [arguments[0], arguments[1]];
const w = window;
if (action === "store") {
  import(new URL(document.querySelector('meta[name="haul-static"]').content + "live.js", location.href).href)
    .then((live) => done(live.tasks.get().map.size));
} else if (action === "render") {  // navigate, then until the rows are on screen
  const t0 = performance.now();
  location.hash = arg;
  const n = Number(new URLSearchParams(arg.split("?")[1]).get("per_page"));
  const probe = () => (document.querySelectorAll("tr.row").length === n && !document.querySelector("main .loading")
    ? done({ total: performance.now() - t0, fetch: Math.max(0, ...performance.getEntriesByType("resource")
        .filter((e) => e.name.includes(`/downloads?`) && e.startTime >= t0).map((e) => e.duration)) })
    : requestAnimationFrame(probe));
  requestAnimationFrame(probe);
} else if (action === "record") {  // frame gaps and long tasks until the rows arg.ids are in state arg.state
  w.__perf = { t0: performance.now(), frames: [], long: [] };
  const wanted = new Set(arg.ids);
  let last = performance.now();
  new PerformanceObserver((list) => list.getEntries().forEach((e) => w.__perf.long.push(e.duration)))
    .observe({ type: "longtask" });
  const tick = (now) => {
    w.__perf.frames.push(now - last); last = now;
    const rows = [...document.querySelectorAll("tr.row")].filter((r) => wanted.has(r.dataset.id));
    if (rows.length === wanted.size && rows.every((r) => r.dataset.state === arg.state)) {
      w.__perf.done = performance.now() - w.__perf.t0; return;
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  done(true);
}
"""


BURST = 100


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1) if ordered else 0.0


def measure(b: Browser, many: Any, api: str, count: int) -> dict[str, Any]:
    """Sign in (the snapshot of ``count`` downloads), render pages of 50 and 500 rows, then pause
    100 of the 500 rows on screen at once and watch the burst of changes arrive."""
    report: dict[str, Any] = {}
    b.driver.set_script_timeout(300)
    b.driver.execute_script("localStorage.removeItem('haul.session')")
    started = time.monotonic()
    b.sign_in("many", "many password 1", timeout=180)  # live = the whole snapshot is in the store
    report["sign_in_to_live_s"] = round(time.monotonic() - started, 1)
    assert b.driver.execute_async_script(FRAMES, "store", None) == count
    for per_page in (50, 500):
        b.go("activity")
        b.wait(lambda: b.css(".page-title") and not b.all("main .loading"), what="activity")
        shown = b.driver.execute_async_script(FRAMES, "render", f"#/downloads?per_page={per_page}")
        report[f"list_{per_page}_rows_ms"] = round(shown["total"], 1)  # navigation to rows on screen
        report[f"list_{per_page}_fetch_ms"] = round(shown["fetch"], 1)  # of which GET /downloads
        assert len(b.all("tr.row")) == per_page  # one page in the DOM, whatever the store holds
    # (The API pauses a bulk list one download at a time: 100 of the 500 rows keep this short.)
    ids = [r.get_attribute("data-id") for r in b.all("tr.row")][:BURST]
    b.driver.execute_async_script(FRAMES, "record", {"ids": ids, "state": "paused"})
    started = time.monotonic()
    answer = many.post(f"{api}/downloads/bulk", json={"action": "pause", "ids": ids}, timeout=600)
    assert answer.status_code == 200, answer.text[:300]
    report["bulk_pause_api_s"] = round(time.monotonic() - started, 1)
    b.wait(lambda: b.driver.execute_script("return window.__perf.done"), 300, f"{BURST} rows paused live")
    perf = b.driver.execute_script("return window.__perf")
    report.update(burst_changes_to_screen_ms=round(perf["done"], 1), frames=len(perf["frames"]),
                  frame_p50_ms=percentile(perf["frames"], 0.5), frame_p95_ms=percentile(perf["frames"], 0.95),
                  frame_max_ms=percentile(perf["frames"], 1.0), long_tasks=len(perf["long"]),
                  long_tasks_total_ms=round(sum(perf["long"]), 1), rows_in_dom=len(b.all("tr.row")))
    assert report["rows_in_dom"] == 500
    return report


@pytest.mark.timeout(3600)
def test_five_thousand_downloads_in_the_store_and_the_list(browser: Browser, runtime: RuntimeProcess,
                                                             origin: Origin) -> None:
    s = admin(runtime)
    s.post(f"{runtime.api}/users", json={"username": "many", "password": "many password 1", "role": "user"},
           timeout=10).raise_for_status()
    many = admin(runtime, "many", "many password 1")
    s.post(f"{runtime.api}/queue/stop", timeout=10).raise_for_status()  # they stay queued (never fetched)
    report: dict[str, Any] = {}
    added = 0
    for count in (500, 5000):
        started = time.monotonic()
        while added < count:
            items = [{"url": origin.url(f"/many/{added + i}.bin")} for i in range(500)]
            answer = many.post(f"{runtime.api}/batches", json={"name": f"many {added}", "items": items}, timeout=120)
            assert answer.status_code == 201, answer.text[:500]
            added += 500
        report[str(count)] = {
            "add_s": round(time.monotonic() - started, 1),
            **measure(browser, many, runtime.api, count),
        }
        (ROOT / "build").mkdir(exist_ok=True)
        (ROOT / "build" / "webapp-5000.json").write_text(json.dumps(report, indent=1))
    print("downloads in the store:", report)
    assert not browser.problems()
