"""``python -m bench.durability``: what the data directory (``HAUL_DATA_DIR``, issue #15) costs,
measured in ONE run so that the machine's load weighs on both modes alike:

1. the transfer: ``--rounds`` rounds, each starting two fresh runtimes one after the other,
   one keeping its state in a data directory (as ``make run`` does) and one in memory
   (``HAUL_DATA_DIR=none``), the order flipped every round; each runs the bench's 1 GiB
   unthrottled case (``bench.cases.run_haul``: POST -> completed, the stored object's SHA-256
   checked after timing). The ratio is taken per round (the two runs are neighbours in time);
   with ``--together`` the two runtimes of a round transfer at the same moment.
2. the listing pages, side by side: both runtimes up at once, ``--tasks`` tasks written into
   each (BatchWriteItem of 25, as the scale test writes them: the journal's write path; each
   chunk to one runtime then to the other, timed), the counters left to catch up, one untimed request per index; then
   page 1
   and the first ``status=failed`` page ``--repeat`` times and a walk of every page
   (``Link: rel="next"``), 50 a page, each request asked of one runtime and at once of the
   other (which goes first alternates), timed from the client.

It prints each run, the medians per mode and the ratios (data directory / memory), and writes
them to ``bench/results/durability.json``. docs/performance.md keeps the analysis (by hand).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import requests

from . import report
from .cases import AWS, run_haul
from .files import human, make_file
from .main import Origin
from .procs import MiB
from .runtime import ROOT, STAGE, Runtime

MODES = ("data dir", "memory")


def say(text: str) -> None:
    print(text, flush=True)


def _figures(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
            "max_ms": round(ordered[-1], 1)}


def seed_side_by_side(runtimes: dict[str, Runtime], owners: dict[str, str], count: int) -> dict[str, float]:
    """Write ``count`` finished/paused tasks of each owner into its runtime's tasks table, 25
    at a time (BatchWriteItem), one chunk to one runtime then the same chunk to the other
    (which goes first alternates); the seconds each runtime's writes took, summed."""
    from tests.e2e.test_scale import _item  # the scale test's task items (DynamoDB JSON)

    table = f"haul-{STAGE}-tasks"
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name="us-east-1")
    clients = {m: session.client("dynamodb", endpoint_url=rt.endpoint) for m, rt in runtimes.items()}
    batch = str(uuid.uuid4())
    spent = dict.fromkeys(runtimes, 0.0)
    for n, start in enumerate(range(0, count, 25)):
        for mode in MODES if n % 2 else tuple(reversed(MODES)):
            pending = [{"PutRequest": {"Item": _item(owners[mode], i, batch)}}
                       for i in range(start, min(start + 25, count))]
            began = time.perf_counter()
            while pending:
                answer = clients[mode].batch_write_item(RequestItems={table: pending})
                pending = answer.get("UnprocessedItems", {}).get(table, [])
            spent[mode] += time.perf_counter() - began
    return spent


def _timed(session: requests.Session, url: str) -> tuple[float, requests.Response]:
    began = time.perf_counter()
    resp = session.get(url, timeout=60)
    elapsed = (time.perf_counter() - began) * 1000
    if resp.status_code != 200:
        raise RuntimeError(f"GET {url} answered {resp.status_code}: {resp.text[:300]}")
    return elapsed, resp


def _user(rt: Runtime) -> tuple[str, requests.Session]:
    """A user of its own (the admin owns the transfer case's download), logged in."""
    name, password = f"lister-{uuid.uuid4().hex[:8]}", "bench listing password"
    made = rt.http.post(f"{rt.base}/users", json={"username": name, "password": password, "role": "user"}, timeout=30)
    if made.status_code != 201:
        raise RuntimeError(f"POST /users answered {made.status_code}: {made.text[:300]}")
    session = requests.Session()
    login = session.post(f"{rt.base}/auth/login", json={"username": name, "password": password}, timeout=30)
    session.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
    return str(made.json()["id"]), session


def caught_up(http: requests.Session, base: str, count: int) -> float:
    """Seconds until the counters show ``count``; then one untimed request per index (the
    emulator sorts each partition once after a bulk write)."""
    began = time.monotonic()
    while http.get(f"{base}?per_page=1", timeout=60).headers.get("X-Total-Count") != str(count):
        if time.monotonic() > began + 600:
            raise TimeoutError(f"X-Total-Count did not reach {count} in 600 s")
        time.sleep(0.5)
    waited = time.monotonic() - began
    for query in ("", "status=failed"):
        http.get(f"{base}?per_page=1&{query}", timeout=60)
    return waited


def side_by_side(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Both runtimes up at once, their tables filled at the same time, then each request asked
    of one and at once of the other (which goes first alternates): the load of the moment
    weighs on both alike."""
    logs = {mode: workdir / f"runtime-listing-{mode.replace(' ', '-')}.log" for mode in MODES}
    with Runtime(logs["data dir"], 1, 4, in_memory=False) as with_dir, \
            Runtime(logs["memory"], 1, 4, in_memory=True) as in_memory:
        runtimes = {"data dir": with_dir, "memory": in_memory}
        say(f"  [listing] both runtimes up; writing {args.tasks} tasks into each, side by side")
        users = {m: _user(rt) for m, rt in runtimes.items()}
        written = seed_side_by_side(runtimes, {m: u[0] for m, u in users.items()}, args.tasks)
        ready: dict[str, dict[str, Any]] = {}
        for mode, (_, http) in users.items():
            base = f"{runtimes[mode].base}/downloads"
            ready[mode] = {"http": http, "base": base, "write_s": round(written[mode], 2),
                           "counters_caught_up_s": round(caught_up(http, base, args.tasks), 1)}
        samples: dict[str, dict[str, list[float]]] = {m: {} for m in MODES}

        def ask(name: str, urls: dict[str, str], i: int) -> dict[str, requests.Response]:
            answers = {}
            for mode in MODES if i % 2 else tuple(reversed(MODES)):
                elapsed, answers[mode] = _timed(ready[mode]["http"], urls[mode])
                samples[mode].setdefault(name, []).append(elapsed)
            return answers

        for i in range(args.repeat):
            ask("page 1", {m: f"{ready[m]['base']}?per_page=50" for m in MODES}, i)
            ask("status=failed page 1", {m: f"{ready[m]['base']}?status=failed&per_page=50" for m in MODES}, i)
        urls: dict[str, str] | None = {m: f"{ready[m]['base']}?per_page=50" for m in MODES}
        pages = 0
        while urls:
            answers = ask("walk (every page)", urls, pages)
            pages += 1
            found = {m: re.search(r'<([^>]+)>; rel="next"', a.headers.get("Link", "")) for m, a in answers.items()}
            urls = {m: f.group(1) for m, f in found.items() if f} or None
            if urls is not None and len(urls) != len(MODES):
                raise RuntimeError("the two runtimes' walks differ in length")
        if pages * 50 < args.tasks:
            raise RuntimeError(f"the walk took {pages} pages for {args.tasks} tasks")
    out: dict[str, Any] = {"tasks": args.tasks, "pages_walked": pages}
    for mode in MODES:
        out[mode] = {"write_s": ready[mode]["write_s"], "counters_caught_up_s": ready[mode]["counters_caught_up_s"],
                     "pages": {name: _figures(values) for name, values in samples[mode].items()}}
        say(f"    {mode}: wrote in {out[mode]['write_s']} s; " + "; ".join(
            f"{k} p50 {v['p50_ms']} ms p95 {v['p95_ms']} ms" for k, v in out[mode]["pages"].items()))
    return out


def _transfer(rt: Runtime, origin: Origin, source: Any, mode: str) -> dict[str, Any]:
    result = run_haul(rt, source, origin.url(f"/{source.name}"), f"durability {mode}", origin.pid,
                      90 + source.size / MiB, 16 * MiB, 8, progress=lambda _: None)
    say(f"    {mode}: haul {human(source.size)}: " + (f"{result.seconds:.1f} s ({result.mib_s:.1f} MiB/s), "
                                                     f"verified {result.verified}" if result.ok else
                                                     f"FAILED ({result.note or result.verified})"))
    return result.as_dict()


def run_round(args: argparse.Namespace, workdir: Path, origin: Origin, source: Any, n: int) -> list[dict[str, Any]]:
    """One round: the two modes one after the other (order flipped each round), or with
    ``--together`` both runtimes up and their transfers at the same moment."""
    order = MODES if n % 2 else tuple(reversed(MODES))
    logs = {m: workdir / f"runtime-{n}-{m.replace(' ', '-')}.log" for m in MODES}
    if not args.together:
        outs = []
        for mode in order:
            with Runtime(logs[mode], args.processes, args.threads, in_memory=mode == "memory") as rt:
                say(f"  [{mode}, round {n}] runtime up (log {logs[mode]})")
                outs.append({"mode": mode, "round": n, "haul": _transfer(rt, origin, source, mode)})
        return outs
    with Runtime(logs[order[0]], args.processes, args.threads, in_memory=order[0] == "memory") as first, \
            Runtime(logs[order[1]], args.processes, args.threads, in_memory=order[1] == "memory") as second:
        say(f"  [round {n}] both runtimes up; both transfers at once")
        with ThreadPoolExecutor(2) as pool:
            hauls = list(pool.map(lambda pair: _transfer(pair[0], origin, source, pair[1]),
                                  [(first, order[0]), (second, order[1])]))
    return [{"mode": mode, "round": n, "haul": haul} for mode, haul in zip(order, hauls, strict=True)]


def summarise(runs: list[dict[str, Any]], listed: dict[str, Any] | None) -> dict[str, Any]:
    """Medians per mode, and data dir / memory ratios: the transfer's per round (the two runs
    of a round are neighbours in time), the listing's from the side-by-side figures."""
    medians: dict[str, dict[str, float]] = {m: {} for m in MODES}
    ratios: dict[str, float] = {}
    by_round: dict[int, dict[str, float]] = {}
    for r in runs:
        if r["haul"].get("ok"):
            by_round.setdefault(r["round"], {})[r["mode"]] = r["haul"]["seconds"]
    for mode in MODES:
        values = [pair[mode] for pair in by_round.values() if mode in pair]
        if values:
            medians[mode]["transfer s"] = round(statistics.median(values), 1)
    paired = [pair["data dir"] / pair["memory"] for pair in by_round.values() if len(pair) == 2]
    if paired:
        ratios["transfer s"] = round(statistics.median(paired), 2)
    if listed:
        for mode in MODES:
            medians[mode]["write 1 task (BatchWriteItem) ms"] = round(
                listed[mode]["write_s"] * 1000 / listed["tasks"], 2
            )
            for page, figures in listed[mode]["pages"].items():
                for stat in ("p50_ms", "p95_ms"):
                    medians[mode][f"{page} {stat}"] = figures[stat]
    for key, value in medians["memory"].items():
        if key not in ratios and value and key in medians["data dir"]:
            ratios[key] = round(medians["data dir"][key] / value, 2)
    return {
        "medians": medians,
        "ratios_data_dir_over_memory": ratios,
        "paired_haul_ratios": [round(x, 2) for x in paired],
    }


def markdown(summary: dict[str, Any]) -> str:
    medians, ratios = summary["medians"], summary["ratios_data_dir_over_memory"]
    lines = ["| measure | data dir | memory | ratio |", "|---|---:|---:|---:|"]
    for key in medians["memory"]:
        lines.append(f"| {key} | {medians['data dir'].get(key, '')} | {medians['memory'][key]} | "
                     f"{ratios.get(key, '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="transfer rounds of (data dir, memory), order flipped "
                   "each round (0: no transfer)")
    p.add_argument("--size-mib", type=int, default=1024, help="the transfer case's file")
    p.add_argument("--together", action="store_true", help="the two transfers of a round at the same moment "
                   "(each has half the machine; the load of the moment weighs on both alike)")
    p.add_argument("--tasks", type=int, default=3000, help="tasks written for the listing pages (0: no listing)")
    p.add_argument("--repeat", type=int, default=30, help="timed requests of page 1 and of the filtered page")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "durability.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="haul-bench-durability-") as tmp:
        workdir = Path(tmp)
        runs: list[dict[str, Any]] = []
        listed: dict[str, Any] | None = None
        began = time.monotonic()
        if args.size_mib and args.rounds:
            source = make_file(workdir, args.size_mib * MiB)
            origin = Origin("fast", {f"/{source.name}": (source.path, None)}, workdir / "origin.log")
            try:
                for n in range(1, args.rounds + 1):
                    runs += run_round(args, workdir, origin, source, n)
            finally:
                origin.stop()
        if args.tasks:
            listed = side_by_side(args, workdir)
    summary = summarise(runs, listed)
    doc = {
        "date": report.now_iso(),
        "command": " ".join(["python -m bench.durability", *(argv if argv is not None else sys.argv[1:])]),
        "elapsed_s": round(time.monotonic() - began, 1),
        "machine": report.machine(AWS),
        "options": vars(args) | {"json": str(args.json)},
        "runs": runs,
        "listing": listed,
        **summary,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    say("\n" + markdown(summary))
    say(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
