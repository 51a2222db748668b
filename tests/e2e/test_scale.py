"""Scale: 10,000 downloads of one user in the local runtime; every page of every list costs the
same however deep it is. Asserted: the Queries behind a page read at most the page and the item
after it (X-Items-Read), and the deep pages are no slower than the first ones (a ratio, so the
assertion holds on a slow machine and fails on an O(offset) walk). The 100 ms target per page at
50 a page, measured from the client, is reported (met or missed per scenario, in
.haul/scale.json) and not asserted: timing belongs to the bench, and the same code answered in
35 ms p50 on one 2-core machine and 85 ms on another (docs/performance.md).

The tasks are written straight into the runtime's tasks table (BatchWriteItem, as the
repository would write them), in finished or paused states the engine leaves alone. Then the
test waits for the totals to reach 10,000 (the stats aggregator reads the 10,000 INSERTs from
the stream), and times: the whole list followed by ``Link: rel="next"`` (50 and 100 a page),
page 1, the last page, a status filter, a batch, a text search and the dispatch order, plus
the admin's all-owner list. One untimed warm-up request per index first: the emulator builds
its sorted per-partition index once after the bulk write (local_runtime/emulator/server.py).
Figures (p50/p95/max per scenario, the write and catch-up times) go to .haul/scale.json and
stdout, with the slowest requests (which page of which scenario) to say where a miss lands.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.support.runtime import ROOT, RuntimeProcess
from tests.support.wait import wait_for

N = 10_000
LIMIT_MS = 100.0
RETRIES, RETRY_GAP_S = 4, 0.2  # a page over the limit is asked again, up to 4 times, 0.2 s apart
STATES = ["completed", "failed", "cancelled", "paused"]  # never queued/downloading: the engine ignores them
T0 = 1_700_000_000_000


@pytest.fixture(scope="module")
def rt() -> Iterator[RuntimeProcess]:
    # One worker process: worker 0 runs the stream pollers (the counters, the activity log).
    # The emulator in memory (HAUL_DATA_DIR=none): this times the API's pages, not the data
    # directory's snapshots (a forked child pickling 10,000 tasks competes for the 2 cores).
    runtime = RuntimeProcess("e2escale", {"HAUL_WORKER_PROCESSES": "1", "HAUL_DATA_DIR": "none"}).start()
    yield runtime
    runtime.stop()


def _item(owner: str, i: int, batch: str) -> dict[str, Any]:
    """A task item as TaskRepository.create writes it (DynamoDB JSON)."""
    from chalicelib.domain.task import rank
    from chalicelib.domain.urls import dedupe_key, host_of

    task_id = str(uuid.UUID(int=int(hashlib.sha256(f"{owner}/{i}".encode()).hexdigest()[:32], 16)))
    state = STATES[i % 4]
    special = i % 10 == 3
    name = f"special-{i:05d}.mkv" if special else f"clip-{i:05d}.mp4"
    url = f"https://cdn{i % 7}.example.com/media/{name}"
    created = T0 + i * 1000
    priority = (10, 0, 0, -10)[i % 4]
    item: dict[str, Any] = {
        "id": {"S": task_id}, "owner": {"S": owner}, "url": {"S": url}, "filename": {"S": name},
        "key": {"S": f"downloads/{task_id}/{name}"}, "state": {"S": state}, "owner_state": {"S": f"{owner}#{state}"},
        "rank": {"S": rank(priority, created * 1000)}, "created_key": {"S": f"{created:013d}#{task_id}"},
        "priority": {"N": str(priority)}, "order": {"N": str(created * 1000)}, "headers": {"M": {}},
        "tags": {"L": [{"S": "scale"}] + ([{"S": "special"}] if special else [])},
        "filename_locked": {"BOOL": False}, "resumable": {"BOOL": True}, "size": {"N": "1048576"},
        "gen": {"N": "0"}, "run": {"N": "0"}, "restarts": {"N": "0"}, "parts_done": {"N": "0"},
        "bytes_done": {"N": "1048576" if state == "completed" else "0"}, "lane_bytes": {"M": {}},
        "lane_speed": {"M": {}}, "lane_steps": {"M": {}}, "lane_tokens": {"M": {}},
        "created_at": {"N": str(created)}, "updated_at": {"N": str(created)}, "heartbeat": {"N": str(created)},
        "host": {"S": host_of(url)}, "search": {"S": f"{name} {url}".lower()}, "dedupe": {"S": dedupe_key(owner, url)},
        "kind": {"S": "task"}, "category": {"S": ("movies", "tv", "music")[i % 3]},
    }
    if state in ("completed", "failed", "cancelled"):
        item["finished_at"] = {"N": str(created + 500)}
    if state == "failed":
        item["error"] = {"S": "HTTP 404 from the origin"}
    if i % 50 == 0:  # a batch of 200
        item["batch_id"] = {"S": batch}
    return item


def _write(rt: RuntimeProcess, items: list[dict[str, Any]]) -> None:
    table = f"haul-{rt.stage}-tasks"
    # One client (and its kept-alive connection) per writing thread, not one per 25 items: a new
    # client and connection per chunk slowed the seeding (docs/notes/session-7/tests-fast.md).
    local = threading.local()

    def put(chunk: list[dict[str, Any]]) -> None:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = rt.client("dynamodb")
        requests_ = [{"PutRequest": {"Item": item}} for item in chunk]
        while requests_:
            answer = client.batch_write_item(RequestItems={table: requests_})
            requests_ = answer.get("UnprocessedItems", {}).get(table, [])

    chunks = [items[i:i + 25] for i in range(0, len(items), 25)]
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, chunks))


def _user(rt: RuntimeProcess, name: str) -> tuple[str, requests.Session]:
    password = "scale test password"
    made = rt.http.post(f"{rt.api}/users", json={"username": name, "password": password, "role": "user"}, timeout=10)
    assert made.status_code == 201, made.text
    session = requests.Session()
    login = session.post(f"{rt.api}/auth/login", json={"username": name, "password": password}, timeout=10)
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return made.json()["id"], session


def _next(resp: requests.Response) -> str | None:
    found = re.search(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
    return found.group(1) if found else None


class Timer:
    """Times each request from the client. A request over the limit is asked again (up to
    four times, 0.2 s apart): what counts for a page is its best time, so a pause of the whole
    emulator process (a garbage collection over a million objects) is not charged to the page
    it happened to land on; the first tries are reported too. Once a page of a scenario has
    missed the limit after its retries, the scenario has missed the target whatever comes
    next: its later pages are timed once (retrying them cost ~75 s of the test when quiet, the
    pages of 100 and the text search never meet 100 ms, and every page of every scenario when
    the machine is loaded)."""

    def __init__(self, session: requests.Session) -> None:
        self.session = session
        self.missed: set[str] = set()  # scenarios with a page over the limit after its retries
        self.samples: dict[str, list[float]] = {}
        self.first_tries: dict[str, list[float]] = {}
        self.requests: list[tuple[float, str, int, str]] = []  # (ms, scenario, n-th of it, url)
        self.reads: dict[str, list[tuple[int, int]]] = {}  # scenario -> (items read, per_page) per page

    def _timed(self, url: str) -> tuple[float, requests.Response]:
        began = time.perf_counter()
        resp = self.session.get(url, timeout=30)
        elapsed = (time.perf_counter() - began) * 1000
        assert resp.status_code == 200, resp.text[:500]
        return elapsed, resp

    def get(self, scenario: str, url: str) -> requests.Response:
        elapsed, resp = self._timed(url)
        self.first_tries.setdefault(scenario, []).append(elapsed)
        per_page = int(resp.json()["per_page"])
        self.reads.setdefault(scenario, []).append((int(resp.headers["X-Items-Read"]), per_page))
        best = elapsed
        for _ in range(RETRIES if scenario not in self.missed else 0):
            if best < LIMIT_MS:
                break
            # A pause of the whole process (a collection) can outlast one retry: space them.
            time.sleep(RETRY_GAP_S)
            again, _ = self._timed(url)
            best = min(best, again)
        if best >= LIMIT_MS:
            self.missed.add(scenario)
        self.samples.setdefault(scenario, []).append(best)
        self.requests.append((best, scenario, len(self.samples[scenario]), url))
        return resp

    def walk(self, scenario: str, url: str, max_pages: int | None = None) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        next_url: str | None = url
        pages = 0
        while next_url and (max_pages is None or pages < max_pages):
            resp = self.get(scenario, next_url)
            tasks += resp.json()["tasks"]
            next_url, pages = _next(resp), pages + 1
        return tasks

    def report(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for scenario, values in self.samples.items():
            reads = [n for n, _ in self.reads[scenario]]
            figures = _figures(values)
            target = "met" if figures["max_ms"] < LIMIT_MS else "missed"
            out[scenario] = {"requests": len(values), **figures, "target_100_ms": target, "max_items_read": max(reads),
                             **{f"first_try_{k}": v for k, v in _figures(self.first_tries[scenario]).items()}}
        return out


def _figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        "max_ms": round(ordered[-1], 1),
    }


@pytest.mark.alone
def test_every_page_of_10000_downloads_costs_the_same_however_deep(rt: RuntimeProcess) -> None:
    owner, session = _user(rt, "scale-user")
    other, other_session = _user(rt, "scale-other")
    batch = str(uuid.uuid4())
    began = time.monotonic()
    _write(rt, [_item(owner, i, batch) for i in range(N)] + [_item(other, i, batch) for i in range(5)])
    write_s = time.monotonic() - began
    print(f"wrote {N + 5} tasks in {write_s:.1f} s", flush=True)
    base = f"{rt.api}/downloads"

    # The totals: the counters catch up with the 10,000 INSERTs from the stream.
    began = time.monotonic()

    def caught_up() -> bool:
        resp = session.get(f"{base}?per_page=1", timeout=30)
        return resp.headers.get("X-Total-Count") == str(N)

    wait_for(caught_up, 300, 1.0, "X-Total-Count to reach 10,000")
    stats = session.get(f"{rt.api}/stats/engine", timeout=30)
    counters_s = time.monotonic() - began
    print(f"X-Total-Count reached {N} after {counters_s:.1f} s", flush=True)

    # One untimed request per index: the emulator sorts each partition once after the bulk write.
    for query in ("", "status=failed", f"batch_id={batch}", "sort=queue", "q=special"):
        session.get(f"{base}?per_page=1&{query}", timeout=60)
    rt.http.get(f"{base}?per_page=1", timeout=60)

    timer = Timer(session)
    # The whole list at the default 50 a page; the first 3,000 at 100 a page.
    for per_page, pages in ((50, None), (100, 30)):
        tasks = timer.walk(f"all, {per_page} a page (Link next)", f"{base}?per_page={per_page}", max_pages=pages)
        ids = [t["id"] for t in tasks]
        expected = N if pages is None else per_page * pages
        assert len(ids) == expected and len(set(ids)) == expected
        created = [t["created_at"] for t in tasks]
        assert created == sorted(created, reverse=True)
        assert {t["owner"] for t in tasks} == {owner}
    first = timer.get("page=1", f"{base}?page=1&per_page=50")
    assert first.headers["X-Total-Count"] == str(N) and len(first.json()["tasks"]) == 50
    last_url = re.search(r'<([^>]+)>; rel="last"', first.headers["Link"])
    assert last_url
    last = timer.get("last page (Link last)", last_url.group(1))
    assert [t["filename"] for t in last.json()["tasks"]][-1] in ("clip-00000.mp4",)
    assert last.json()["page"] == N // 50 and len(last.json()["tasks"]) == 50

    failed = timer.walk("status=failed", f"{base}?status=failed&per_page=50", max_pages=10)
    assert len(failed) == 500 and {t["state"] for t in failed} == {"failed"}
    assert timer.get("status=failed", f"{base}?status=failed").headers["X-Total-Count"] == str(N // 4)
    in_batch = timer.walk("batch_id", f"{base}?batch_id={batch}&per_page=50")
    assert len(in_batch) == N // 50  # the other user's items of the batch are not listed
    special = timer.walk("q=special (text search)", f"{base}?q=SPECIAL&per_page=50", max_pages=10)
    assert len(special) == 500 and all("special" in t["filename"] for t in special)
    queue = timer.walk("sort=queue", f"{base}?sort=queue&per_page=50", max_pages=10)
    assert [t["priority_value"] for t in queue[:10]] == [10] * 10
    combo = timer.walk("status=paused&category=tv", f"{base}?status=paused&category=tv&per_page=50", max_pages=5)
    assert {(t["state"], t["category"]) for t in combo} == {("paused", "tv")}
    admin_tasks = Timer(rt.http)
    admin_tasks.walk("admin, every owner", f"{base}?per_page=50", max_pages=10)
    assert other_session.get(f"{base}", timeout=10).headers["X-Total-Count"] == "5"

    figures = {**timer.report(), **admin_tasks.report()}
    # O(page) on any backend (issue #12 item 7): the Queries behind a page read at most the page
    # and the item after it (their ScannedCount, which the API reports as X-Items-Read), however
    # deep the page. Filters DynamoDB applies after reading (text search, a second condition)
    # read ahead by design: reported above, not held to this. The batch's one item of another
    # owner is as old as its oldest, so the batch's pages are held to it too (measured 51 for 50 a page).
    read_ahead = {"q=special (text search)", "status=paused&category=tv"}
    over = {(name, n, per_page) for t in (timer, admin_tasks) for name, pages in t.reads.items()
            if name not in read_ahead for n, per_page in pages if n > per_page + 1}
    assert not over, f"pages that read more than their size + 1: {sorted(over)[:10]}"
    summary = {"tasks": N, "write_seconds": round(write_s, 1), "counters_caught_up_seconds": round(counters_s, 1),
               "stats_engine_status": stats.status_code, "scenarios": figures}
    (ROOT / ".haul").mkdir(exist_ok=True)
    (ROOT / ".haul" / "scale.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    for ms, scenario, nth, url in sorted(timer.requests + admin_tasks.requests, reverse=True)[:15]:
        print(f"slowest: {ms:7.1f} ms  {scenario} #{nth}  {url.split('/api/v1', 1)[-1][:110]}")
    # Depth does not cost time: the last 40 of the 200 pages at 50 a page answer like the first
    # 40 (medians; twice plus 20 ms leaves room for a busy machine, an O(offset) walk would be
    # several times slower at page 200 than at page 1), and the last page like page 1.
    walk = timer.samples["all, 50 a page (Link next)"]
    head, tail = statistics.median(walk[:40]), statistics.median(walk[-40:])
    assert tail <= 2 * head + 20, f"deep pages slower: median {tail:.1f} ms at pages 161-200, {head:.1f} ms at 1-40"
    first_ms, last_ms = timer.samples["page=1"][0], timer.samples["last page (Link last)"][0]
    assert last_ms <= 3 * first_ms + 20, f"the last page took {last_ms:.1f} ms, page 1 {first_ms:.1f} ms"
