"""The everyday load (issue #13): many small and medium files, one small file's latency, and
how fast many downloads are admitted.

Cases, each side by side with what a user would script instead, in one runtime:

- ``admission``: 200 single ``POST /downloads`` (p50/p95 of the server's time, from the
  answers' ``Server-Timing`` header, and at the client), then ``POST /batches``
  of 10, 100 and 500 items with the queue stopped (the answer's time, not the downloads');
  then the queue is started and the 610 queued downloads (256 KiB each) show how well the
  dispatcher keeps ``max_concurrent_downloads`` = 8 slots busy (``slots``).
- ``latency``: one 4 MiB file, POST to completed, against ``curl URL | aws s3 cp -``; the
  median of 5 each, and the time from the POST to the origin serving the first byte (the
  origin's trace).
- ``batch-small``: 100 files x 4 MiB; ``batch-medium``: 20 x 64 MiB. Haul (``POST /batches``,
  8 downloads at once) vs ``aria2c -j8 -i list`` into a directory then ``aws s3 cp
  --recursive``, vs a ``curl | aws s3 cp -`` loop.

The origin limits each connection to 20 MiB/s. Haul's time is from the POST to the latest
``finished_at`` of the batch's downloads (the server's clock; the bench polls only to know
when to look), and every object is checked by SHA-256 afterwards.
"""

from __future__ import annotations

import shlex
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .cases import AWS, CURL, Measure, Result, _aws_env, curl_aws, run_tool
from .files import SourceFile, human
from .procs import MiB
from .runtime import BUCKET, Runtime

SLOTS = 8
TINY = 256 * 1024


@dataclass(frozen=True)
class Counts:
    small: int  # files of 4 MiB in batch-small
    medium: int  # files of 64 MiB in batch-medium
    singles: int  # single POST /downloads timed
    batches: tuple[int, ...]  # POST /batches sizes
    latency_runs: int


FULL = Counts(small=100, medium=20, singles=200, batches=(10, 100, 500), latency_runs=5)
QUICK = Counts(small=20, medium=4, singles=50, batches=(10, 100, 500), latency_runs=3)
ARIA = "aria2c -j8 -i list + aws s3 cp --recursive"
LOOP = "curl | aws s3 cp - (loop)"


def paths(
    counts: Counts, small: SourceFile, medium: SourceFile, tiny: SourceFile
) -> dict[str, tuple[SourceFile, bool]]:
    """Origin path -> (file, throttled): every download its own URL (Haul never sees a duplicate)."""
    out: dict[str, tuple[SourceFile, bool]] = {}
    out.update({f"/small/{i:03d}-4mib.bin": (small, True) for i in range(counts.small)})
    out.update({f"/medium/{i:02d}-64mib.bin": (medium, True) for i in range(counts.medium)})
    out.update({f"/latency/{i}-4mib.bin": (small, True) for i in range(2 * counts.latency_runs)})
    tiny_count = counts.singles + sum(counts.batches)
    out.update({f"/tiny/{i:04d}.bin": (tiny, True) for i in range(tiny_count)})
    return out


def _ms(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def trace(path: Path) -> dict[str, list[tuple[float, float, int, int]]]:
    """The origin's trace (bench/origin.py): path -> [(start, end, offset, length)], by start."""
    out: dict[str, list[tuple[float, float, int, int]]] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) < 6:
            continue
        out.setdefault(parts[5], []).append((float(parts[0]), float(parts[1]), int(parts[3]), int(parts[4])))
    for rows in out.values():
        rows.sort()
    return out


def server_ms(header: str | None, metric: str = "total") -> float | None:
    """``metric``'s duration in ms from a ``Server-Timing`` header (functions/rest/http.py)."""
    for entry in (header or "").split(","):
        name, _, params = entry.strip().partition(";")
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if name.strip() == metric and key == "dur":
                try:
                    return float(value)
                except ValueError:
                    return None
    return None


def _p50_p95(seconds: list[float]) -> dict[str, float]:
    """p50 and p95 in ms (rounded to 0.1); empty for no values."""
    if not seconds:
        return {}
    return {"p50": round((pct(seconds, 0.5) or 0) * 1000, 1), "p95": round((pct(seconds, 0.95) or 0) * 1000, 1)}


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Everyday:
    def __init__(self, rt: Runtime, url: Callable[[str], str], files: dict[str, SourceFile], origin_pid: int,
                 trace_path: Path, workdir: Path, counts: Counts, say: Callable[[str], None],
                 with_tools: bool = True, with_loop: bool = True) -> None:
        self.rt = rt
        self.url = url
        self.files = files  # origin path -> its source file
        self.origin_pid = origin_pid
        self.trace_path = trace_path
        self.workdir = workdir
        self.counts = counts
        self.say = say
        self.with_tools = with_tools
        self.with_loop = with_loop  # the batch cases' curl | aws s3 cp - loop (minutes of it)
        self.results: list[Result] = []
        self.figures: dict[str, Any] = {}

    # -- helpers --------------------------------------------------------------------------------
    def _groups(self) -> dict[str, Callable[[], Iterable[int]]]:
        assert self.rt.proc is not None
        pid = self.rt.proc.pid
        return {"runtime": lambda: [pid], "workers": self.rt.worker_pids, "origin": lambda: [self.origin_pid]}

    def _post(self, path: str, body: Any, timeout: float = 120) -> Any:
        resp = self.rt.http.post(f"{self.rt.base}{path}", json=body, timeout=timeout)
        if resp.status_code not in (200, 201):
            raise RuntimeError(f"POST {path} answered {resp.status_code}: {resp.text[:300]}")
        return resp.json()

    def _batch_tasks(self, batch_id: str) -> list[dict[str, Any]]:
        tasks: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"per_page": 500}
            if cursor:
                params["cursor"] = cursor
            resp = self.rt.http.get(f"{self.rt.base}/batches/{batch_id}", params=params, timeout=60)
            resp.raise_for_status()
            page = resp.json()
            tasks += page["tasks"]
            cursor = page.get("next_cursor")
            if not cursor:
                return tasks

    def _wait_batch(self, batch_id: str, items: int, timeout: float) -> list[dict[str, Any]]:
        """Poll the batch's summary until every item has finished; then its tasks."""
        deadline = time.monotonic() + timeout
        while True:
            resp = self.rt.http.get(f"{self.rt.base}/batches/{batch_id}", params={"per_page": 1}, timeout=60)
            resp.raise_for_status()
            s = resp.json()["batch"]
            if s["completed"] + s["failed"] + s["cancelled"] >= items:
                return self._batch_tasks(batch_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"batch {batch_id}: {s['completed']}/{items} completed after {timeout:.0f} s")
            time.sleep(0.25)

    def _verify(self, tasks: list[dict[str, Any]]) -> str:
        for t in tasks:
            if t["state"] != "completed":
                return f"{t['state']}: {t.get('error')}"
            source = self.files[_path_of(t["url"])]
            if self.rt.object_sha256(t["key"]) != source.sha256:
                return f"sha256 mismatch in {t['key']}"
        for t in tasks:
            self.rt.delete_object(t["key"])  # the emulator keeps objects in memory
        return "sha256"

    # -- admission and slots ----------------------------------------------------------------------
    def admission(self) -> None:
        rt = self.rt
        rt.settings(max_concurrent_downloads=SLOTS, part_size=16 * MiB, parallel_parts=8)
        tiny = sorted(p for p in self.files if p.startswith("/tiny/"))
        singles, rest = tiny[: self.counts.singles], tiny[self.counts.singles:]
        times: list[float] = []
        served: list[float] = []  # the answers' Server-Timing total: the server's own time
        for p in singles:
            began = time.monotonic()
            resp = self.rt.http.post(f"{self.rt.base}/downloads", json={"url": self.url(p)}, timeout=120)
            times.append(time.monotonic() - began)
            if resp.status_code != 201:
                raise RuntimeError(f"POST /downloads answered {resp.status_code}: {resp.text[:300]}")
            ms = server_ms(resp.headers.get("Server-Timing"))
            if ms is not None:
                served.append(ms / 1000)
        client, server = _p50_p95(times), _p50_p95(served)
        self.figures["single_add_ms"] = {"n": len(times), **client, "server": server}
        self.say(f"    single POST /downloads x{len(times)} (the queue running): server time p50 "
                 f"{server.get('p50')} ms, p95 {server.get('p95')} ms; at the client p50 "
                 f"{client.get('p50')} ms, p95 {client.get('p95')} ms")
        self._wait_idle(120)
        self._post("/queue/stop", {})
        answered: dict[str, float] = {}
        batch_ids = []
        for n in self.counts.batches:
            items, rest = rest[:n], rest[n:]
            result = Result("admission", "haul", n * TINY, config={"items": n})
            with Measure(result, lambda: [], self._groups()):
                body = self._post(
                    "/batches", {"name": f"admission-{n}", "items": [{"url": self.url(p)} for p in items]}
                )
            result.ok = sum(1 for r in body["results"] if r["ok"]) == n
            result.verified = "answered" if result.ok else "items refused"
            result.detail = {"items": n, "seconds_to_answer": round(result.seconds or 0, 3)}
            answered[str(n)] = round(result.seconds or 0, 3)
            batch_ids.append((body["batch"]["id"], n))
            self.results.append(result)
            self.say(
                f"    POST /batches of {n}: {result.seconds:.2f} s (runtime CPU {result.cpu.get('runtime', 0):.2f} s)"
            )
        self.figures["admission_s"] = answered
        # The queued downloads, 8 at once: how long does a slot stay free while work waits?
        began = time.time()
        self._post("/queue/start", {})
        tasks = [t for batch_id, n in batch_ids for t in self._wait_batch(batch_id, n, 600)]
        self.figures["slots"] = occupancy(tasks, began, trace(self.trace_path), SLOTS)
        s = self.figures["slots"]
        self.say(f"    {len(tasks)} queued downloads, {SLOTS} slots: busy {s['busy_share']:.0%} while work waited; "
                 f"a freed slot refilled in p50 {s['refill_ms_p50']} / p95 {s['refill_ms_p95']} / max "
                 f"{s['refill_ms_max']} ms; dispatch to first origin byte p50 {s['first_byte_ms_p50']} ms")
        for t in tasks:
            rt.delete_object(t["key"])

    def _wait_idle(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for state in ("queued", "downloading"):
                resp = self.rt.http.get(
                    f"{self.rt.base}/downloads", params={"status": state, "per_page": 1}, timeout=30
                )
                if int(resp.headers.get("X-Total-Count", "1")):
                    break
            else:
                return
            time.sleep(0.5)

    # -- one small file -------------------------------------------------------------------------
    def latency(self) -> None:
        rt = self.rt
        rt.settings(max_concurrent_downloads=SLOTS)
        paths_ = sorted(p for p in self.files if p.startswith("/latency/"))
        source = self.files[paths_[0]]
        hauls, curls, first_bytes = [], [], []
        for i in range(self.counts.latency_runs):
            path = paths_[2 * i]
            result = Result("latency", "haul", source.size)
            with Measure(result, rt.worker_pids, self._groups()):
                posted = time.time()
                task_id = rt.add(self.url(path))
                task = rt.wait_done(task_id, 60)
            done = _ms(task.get("finished_at"))
            result.seconds = (done - posted) if done else result.seconds
            result.ok = task.get("state") == "completed" and rt.object_sha256(str(task["key"])) == source.sha256
            result.verified = "sha256" if result.ok else f"{task.get('state')}: {task.get('error')}"
            rt.delete_object(str(task["key"]))
            served = trace(self.trace_path).get(path) or []
            if served:
                first_bytes.append(served[0][0] - posted)
            hauls.append(result)
            if self.with_tools:
                curls.append(curl_aws(rt, self.url(paths_[2 * i + 1]), f"baseline/latency/{i}.bin", "latency",
                                      source.size, self.origin_pid, 60, self.workdir))
        haul, curl = _median(hauls), _median(curls) if curls else None
        haul.detail = {"runs_s": [round(r.seconds or 0, 3) for r in hauls],
                       "post_to_first_origin_byte_ms": [round(x * 1000) for x in first_bytes]}
        self.results.append(haul)
        self.figures["first_byte_ms_p50"] = round((pct(first_bytes, 0.5) or 0) * 1000)
        self.say(f"    haul: median {haul.seconds:.2f} s of {[round(r.seconds or 0, 2) for r in hauls]}; "
                 f"POST to first origin byte p50 {self.figures['first_byte_ms_p50']} ms")
        if curl is not None:
            curl.detail = {"runs_s": [round(r.seconds or 0, 3) for r in curls]}
            self.results.append(curl)
            self.say(
                f"    curl | aws s3 cp -: median {curl.seconds:.2f} s of {[round(r.seconds or 0, 2) for r in curls]}"
            )

    # -- many files -----------------------------------------------------------------------------
    def batch(self, case: str, prefix: str) -> None:
        rt = self.rt
        rt.settings(max_concurrent_downloads=SLOTS, part_size=16 * MiB, parallel_parts=8)
        paths_ = sorted(p for p in self.files if p.startswith(prefix))
        total = sum(self.files[p].size for p in paths_)
        each = human(self.files[paths_[0]].size)
        self.say(f"  [{case}] haul {len(paths_)} x {each}...")
        result = Result(case, "haul", total, config={"files": len(paths_), "each": each})
        try:
            with Measure(result, rt.worker_pids, self._groups()):
                posted = time.time()
                body = self._post("/batches", {"name": case, "items": [{"url": self.url(p)} for p in paths_]})
                tasks = self._wait_batch(body["batch"]["id"], len(paths_), 90 + total / (2 * MiB))
            ends = [_ms(t.get("finished_at")) or 0.0 for t in tasks]
            result.seconds = max(ends) - posted
            result.detail = {"answered_s": None, "files": len(paths_)}
            self.say("    verifying every stored object's SHA-256 (not timed)")
            result.verified = self._verify(tasks)
            result.ok = result.verified == "sha256"
        except Exception as exc:  # noqa: BLE001 - one broken case must not lose the others
            result.note = f"{type(exc).__name__}: {exc}"[:300]
        self._show(result)
        self.results.append(result)
        if not self.with_tools:
            return
        for run in (self._aria2c, self._curl_loop) if self.with_loop else (self._aria2c,):
            tool = run(case, paths_, total)
            self._show(tool)
            self.results.append(tool)

    def _list(self, paths_: list[str]) -> Path:
        listing = self.workdir / "urls.txt"
        listing.write_text("".join(self.url(p) + "\n" for p in paths_))
        return listing

    def _aria2c(self, case: str, paths_: list[str], total: int) -> Result:
        if shutil.which("aria2c") is None:
            return Result(case, ARIA, total, note="aria2c is not installed: apt-get install -y aria2")
        self.say(f"  [{case}] {ARIA}...")
        tmp = Path(tempfile.mkdtemp(prefix="aria2-", dir=self.workdir))
        prefix = f"baseline/{case}/aria2c"
        script = (
            f"aria2c -q -j{SLOTS} --file-allocation=none --allow-overwrite=true --auto-file-renaming=false "
            f"-d {shlex.quote(str(tmp))} -i {shlex.quote(str(self._list(paths_)))}\n"
            f"{shlex.quote(AWS)} s3 cp --recursive {shlex.quote(str(tmp))} s3://{BUCKET}/{prefix}/ "
            f"--endpoint-url {self.rt.s3_endpoint} --only-show-errors"
        )
        try:
            return self._tool(ARIA, script, case, prefix, paths_, total)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _curl_loop(self, case: str, paths_: list[str], total: int) -> Result:
        self.say(f"  [{case}] {LOOP}...")
        prefix = f"baseline/{case}/curl"
        script = (
            f"while read -r url; do curl -sfS \"$url\" | {shlex.quote(AWS)} s3 cp - "
            f"\"s3://{BUCKET}/{prefix}/$(basename \"$url\")\" --endpoint-url {self.rt.s3_endpoint} --only-show-errors; "
            f"done < {shlex.quote(str(self._list(paths_)))}"
        )
        return self._tool(LOOP, script, case, prefix, paths_, total)

    def _tool(self, tool: str, script: str, case: str, prefix: str, paths_: list[str], total: int) -> Result:
        """``run_tool`` checks one key; here every file of the list must be in the bucket."""
        result = run_tool(
            self.rt,
            tool,
            script,
            "-",
            case,
            total,
            self.origin_pid,
            90 + total / (MiB / 2),
            self.workdir,
            _aws_env(self.rt),
        )
        listed = self._listed(prefix)
        want = {p.rsplit("/", 1)[1]: self.files[p].size for p in paths_}
        if result.note:  # it failed or timed out
            result.ok = False
        elif listed == want:
            result.ok, result.verified, result.note = True, "size", ""
        else:
            result.ok, result.verified = False, f"{len(listed)} of {len(want)} objects stored"
        for name in listed:
            self.rt.delete_object(f"{prefix}/{name}")
        return result

    def _listed(self, prefix: str) -> dict[str, int]:
        out: dict[str, int] = {}
        for page in self.rt.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
            for obj in page.get("Contents", []):
                out[obj["Key"].rsplit("/", 1)[1]] = int(obj["Size"])
        return out

    def _show(self, r: Result) -> None:
        if r.ok:
            self.say(f"    {r.tool}: {r.seconds:.1f} s, {r.mib_s:.1f} MiB/s, verified {r.verified}")
        else:
            self.say(f"    {r.tool}: FAILED ({r.note or r.verified})")


def _path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _median(runs: list[Result]) -> Result:
    ok = sorted((r for r in runs if r.ok), key=lambda r: r.seconds or 0.0)
    return ok[len(ok) // 2] if ok else runs[0]


def occupancy(tasks: list[dict[str, Any]], began: float, served: dict[str, list[tuple[float, float, int, int]]],
              slots: int) -> dict[str, Any]:
    """How busy the slots were while downloads waited, from the tasks' started/finished times.

    A slot is busy from a download's start (the dispatcher's move to downloading) to its
    finish. While work is queued (until the last download started), each finish should be
    followed by a start: ``refill`` is that delay. ``first_byte`` is a download's start to
    the origin serving its first byte (the worker's pick-up and probe)."""
    spans = sorted((s, f) for t in tasks if (s := _ms(t.get("started_at"))) and (f := _ms(t.get("finished_at"))))
    if not spans:
        return {}
    starts = sorted(s for s, _ in spans)
    last_start = starts[-1]
    refills = []
    for _, finish in spans:
        if finish >= last_start:
            continue
        nxt = next((s for s in starts if s >= finish), None)
        if nxt is not None:
            refills.append(nxt - finish)
    # Busy share of slots x time between the first and the last start.
    window = max(1e-9, last_start - starts[0])
    busy = sum(max(0.0, min(f, last_start) - max(s, starts[0])) for s, f in spans)
    first_bytes = []
    for t in tasks:
        rows = served.get(_path_of(t["url"]))
        start = _ms(t.get("started_at"))
        if rows and start:
            first_bytes.append(rows[0][0] - start)
    done = max(f for _, f in spans)

    def ms(x: float | None) -> int | None:
        return round(x * 1000) if x is not None else None

    return {
        "downloads": len(spans),
        "slots": slots,
        "seconds": round(done - began, 2),
        "busy_share": round(min(1.0, busy / (slots * window)), 3),
        "refill_ms_p50": ms(pct(refills, 0.5)),
        "refill_ms_p95": ms(pct(refills, 0.95)),
        "refill_ms_max": ms(max(refills) if refills else None),
        "refills_over_200ms": sum(1 for r in refills if r > 0.2),
        "first_byte_ms_p50": ms(pct(first_bytes, 0.5)),
        "first_byte_ms_p95": ms(pct(first_bytes, 0.95)),
    }


def ratios(results: list[dict[str, Any]], figures: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets for the everyday cases, each with its measured value and verdict."""

    def seconds(case: str, tool: str) -> float | None:
        found = [r["seconds"] for r in results if r["case"] == case and r["tool"] == tool and r["ok"]]
        return found[0] if found else None

    out = []
    for case, goal, need in (("batch-small", ">= 1.0x the aria2c pipeline", 1.0),
                             ("batch-medium", ">= 1.5x the aria2c pipeline", 1.5)):
        haul, aria = seconds(case, "haul"), seconds(case, ARIA)
        value = aria / haul if haul and aria else None
        out.append({"target": case, "what": f"{case}: Haul vs {ARIA}", "goal": goal,
                    "value": f"{value:.2f}x" if value else None, "met": bool(value and value >= need)})
    haul, curl = seconds("latency", "haul"), seconds("latency", CURL)
    value = haul / curl if haul and curl else None
    out.append({"target": "latency", "what": "one 4 MiB file, POST to completed, vs curl | aws s3 cp -",
                "goal": "<= 1.2x its time", "value": f"{value:.2f}x its time" if value else None,
                "met": bool(value and value <= 1.2)})
    adm = figures.get("admission_s") or {}
    biggest = adm.get("500")
    out.append({"target": "admission", "what": "POST /batches of 500 items, seconds to answer",
                "goal": "< 3 s", "value": f"{biggest:.2f} s" if biggest is not None else None,
                "met": bool(biggest is not None and biggest < 3)})
    single = figures.get("single_add_ms") or {}
    server = single.get("server") or {}
    out.append({"target": "single-add",
                "what": "POST /downloads x200, the queue running: server time p50 (p95; p50 / p95 at the client)",
                "goal": "~50 ms p50 of server time",
                "value": (f"{server.get('p50')} ms ({server.get('p95')} ms; {single.get('p50')} / "
                          f"{single.get('p95')} ms)") if single else None,
                "met": bool(server and server["p50"] <= 55)})
    fb = figures.get("first_byte_ms_p50")
    out.append(
        {
            "target": "first-byte",
            "what": "POST to the origin's first byte, a slot free (p50)",
            "goal": "< 300 ms",
            "value": f"{fb} ms" if fb is not None else None,
            "met": bool(fb is not None and fb < 300),
        }
    )
    slots = figures.get("slots") or {}
    out.append(
        {
            "target": "slots",
            "what": "a freed slot refilled while 500+ downloads waited (max; p95)",
            "goal": "<= ~200 ms",
            "value": f"{slots.get('refill_ms_max')} ms ({slots.get('refill_ms_p95')} ms)" if slots else None,
            "met": bool(slots and (slots.get("refill_ms_p95") or 0) <= 200),
        }
    )
    return out


def seconds_table(results: list[dict[str, Any]]) -> list[list[str]]:
    """case, tool, files, seconds, MiB/s, Haul is N x faster, verified."""
    haul = {r["case"]: r["seconds"] for r in results if r["tool"] == "haul" and r["ok"]}
    rows = []
    for r in results:
        if r["case"] == "admission":
            continue
        base = haul.get(r["case"])
        faster = f"{r['seconds'] / base:.2f}x" if base and r["ok"] and r["seconds"] and r["tool"] != "haul" else "-"
        files = (r.get("config") or {}).get("files") or next(
            (x["config"].get("files") for x in results if x["case"] == r["case"] and x["tool"] == "haul"), 1)
        rows.append([r["case"], r["tool"], str(files or 1), r["source"],
                     f"{r['seconds']:.2f}" if r["seconds"] else "-", f"{r['mib_s']:.1f}" if r["mib_s"] else "-",
                     faster, r["verified"] if r["ok"] else ("FAILED: " + (r["note"] or r["verified"]))[:60]])
    return rows


SECONDS_HEAD = ["case", "tool", "files", "bytes", "seconds", "MiB/s", "Haul is this much faster", "verified"]


def markdown(run: dict[str, Any], md_table: Callable[[list[str], list[list[str]]], str]) -> str:
    ev = run["everyday"]
    fig = ev["figures"]
    out = [
        f"## Everyday load: latest run {run['date']}",
        "",
        f"Load average at start {run['machine']['load_average_at_start']} on {run['machine']['nproc']} CPUs "
        "(the machine is shared: the ratios, measured in the same run, are what counts). Origin at 20 MiB/s "
        "per connection, `max_concurrent_downloads` 8, part size 16 MiB, 8 parallel parts.",
        "",
        md_table(SECONDS_HEAD, seconds_table(ev["results"])),
        "",
        "Targets:",
        "",
        md_table(
            ["target", "goal", "measured", "verdict"],
            [[t["what"], t["goal"], t["value"] or "-", "met" if t["met"] else "MISSED"] for t in ev["targets"]],
        ),
        "",
    ]
    if fig.get("admission_s"):
        cpu = {str(r["detail"]["items"]): r["cpu"].get("runtime") for r in ev["results"] if r["case"] == "admission"}
        out += [
            "Admission (the queue stopped, so only the answer is timed): "
            + ", ".join(
                f"{n} items {s:.2f} s (runtime CPU {cpu.get(n) or 0:.2f} s)" for n, s in fig["admission_s"].items()
            )
            + f". Single `POST /downloads` x{fig['single_add_ms']['n']} (the queue running): server time "
            f"(`Server-Timing` total) p50 {(fig['single_add_ms'].get('server') or {}).get('p50')} ms, p95 "
            f"{(fig['single_add_ms'].get('server') or {}).get('p95')} ms; at the client p50 "
            f"{fig['single_add_ms']['p50']} ms, p95 {fig['single_add_ms']['p95']} ms.",
            "",
        ]
    s = fig.get("slots") or {}
    if s:
        out += [f"Slots: {s['downloads']} queued downloads of 256 KiB, {s['slots']} at once, done in {s['seconds']} s; "
                f"slots busy {s['busy_share']:.0%} of the time work waited; a freed slot was refilled in p50 "
                f"{s['refill_ms_p50']} / p95 {s['refill_ms_p95']} / max {s['refill_ms_max']} ms "
                f"({s['refills_over_200ms']} refills over 200 ms); dispatch to the origin's first byte p50 "
                f"{s['first_byte_ms_p50']} / p95 {s['first_byte_ms_p95']} ms.", ""]
    return "\n".join(out)


__all__ = ["FULL", "QUICK", "TINY", "Everyday", "markdown", "paths", "ratios"]
