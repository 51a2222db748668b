"""``python -m bench.durability``: what the data directory (``HAUL_DATA_DIR``, issue #15) costs,
measured in ONE run so that the machine's load weighs on both modes alike.

Each round starts two fresh runtimes one after the other, one keeping its state in a data
directory (as ``make run`` does) and one in memory (``HAUL_DATA_DIR=none``); the order flips
every round. In each runtime:

1. the 1 GiB unthrottled case (the bench's, ``bench.cases.run_haul``: POST -> completed, the
   stored object's SHA-256 checked after timing);
2. the listing pages: ``--tasks`` tasks written straight into the tasks table (BatchWriteItem,
   as the scale test writes them: timed, it is the journal's write path), the counters left to
   catch up, one untimed request per index, then page 1 and the first ``status=failed`` page
   ``--repeat`` times each and a walk of every page (``Link: rel="next"``), 50 a page, timed
   from the client.

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


def seed(rt: Runtime, owner: str, count: int) -> float:
    """Write ``count`` finished/paused tasks of ``owner`` into the tasks table; seconds taken."""
    from tests.e2e.test_scale import _item  # the scale test's task items (DynamoDB JSON)

    batch = str(uuid.uuid4())
    items = [_item(owner, i, batch) for i in range(count)]
    table = f"haul-{STAGE}-tasks"

    def put(chunk: list[dict[str, Any]]) -> None:
        client = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                       region_name="us-east-1").client("dynamodb", endpoint_url=rt.endpoint)
        pending = [{"PutRequest": {"Item": item}} for item in chunk]
        while pending:
            pending = client.batch_write_item(RequestItems={table: pending}).get("UnprocessedItems", {}).get(table, [])

    began = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, [items[i:i + 25] for i in range(0, len(items), 25)]))
    return time.monotonic() - began


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


def listing(rt: Runtime, count: int, repeat: int) -> dict[str, Any]:
    owner, http = _user(rt)
    write_s = seed(rt, owner, count)
    say(f"    wrote {count} tasks in {write_s:.1f} s")
    base = f"{rt.base}/downloads"
    began = time.monotonic()
    deadline = began + 600
    while http.get(f"{base}?per_page=1", timeout=60).headers.get("X-Total-Count") != str(count):
        if time.monotonic() > deadline:
            raise TimeoutError(f"X-Total-Count did not reach {count} in 600 s")
        time.sleep(1.0)
    caught_up_s = time.monotonic() - began
    for query in ("", "status=failed"):  # the emulator sorts each partition once after the bulk write
        http.get(f"{base}?per_page=1&{query}", timeout=60)
    samples: dict[str, list[float]] = {"page 1": [], "status=failed page 1": [], "walk (every page)": []}
    for _ in range(repeat):
        samples["page 1"].append(_timed(http, f"{base}?per_page=50")[0])
        samples["status=failed page 1"].append(_timed(http, f"{base}?status=failed&per_page=50")[0])
    next_url: str | None = f"{base}?per_page=50"
    seen = 0
    while next_url:
        elapsed, resp = _timed(http, next_url)
        samples["walk (every page)"].append(elapsed)
        seen += len(resp.json()["tasks"])
        found = re.search(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
        next_url = found.group(1) if found else None
    if seen != count:
        raise RuntimeError(f"the walk listed {seen} tasks, not {count}")
    return {"tasks": count, "write_s": round(write_s, 2), "counters_caught_up_s": round(caught_up_s, 1),
            "pages": {name: _figures(values) for name, values in samples.items()}}


def run_mode(args: argparse.Namespace, workdir: Path, origin: Origin, source: Any, mode: str, n: int) -> dict[str, Any]:
    log = workdir / f"runtime-{n}-{mode.replace(' ', '-')}.log"
    out: dict[str, Any] = {"mode": mode, "round": n}
    began = time.monotonic()
    with Runtime(log, args.processes, args.threads, in_memory=mode == "memory") as rt:
        out["start_s"] = round(time.monotonic() - began, 1)
        say(f"  [{mode}, round {n}] runtime up in {out['start_s']} s (log {log})")
        if args.size_mib:
            result = run_haul(rt, source, origin.url(f"/{source.name}"), f"durability {mode}", origin.pid,
                              90 + source.size / (2 * MiB), 16 * MiB, 8, progress=say)
            out["haul"] = result.as_dict()
            say(f"    haul {human(source.size)}: " + (f"{result.seconds:.1f} s ({result.mib_s:.1f} MiB/s), "
                                                     f"verified {result.verified}" if result.ok else
                                                     f"FAILED ({result.note or result.verified})"))
        if args.tasks:
            out["listing"] = listing(rt, args.tasks, args.repeat)
            say("    " + "; ".join(f"{k} p50 {v['p50_ms']} ms p95 {v['p95_ms']} ms"
                                   for k, v in out["listing"]["pages"].items()))
    return out


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians per mode over the rounds, and data dir / memory ratios."""
    per_mode: dict[str, dict[str, float]] = {}
    for mode in MODES:
        mine = [r for r in runs if r["mode"] == mode]
        figures: dict[str, float] = {}
        hauls = [r["haul"]["seconds"] for r in mine if r.get("haul", {}).get("ok")]
        if hauls:
            figures["haul_s"] = round(statistics.median(hauls), 1)
        for key in ("write_s", "counters_caught_up_s"):
            values = [r["listing"][key] for r in mine if "listing" in r]
            if values:
                figures[key] = round(statistics.median(values), 2)
        for page in ("page 1", "status=failed page 1", "walk (every page)"):
            for stat in ("p50_ms", "p95_ms"):
                values = [r["listing"]["pages"][page][stat] for r in mine if "listing" in r]
                if values:
                    figures[f"{page} {stat}"] = round(statistics.median(values), 1)
        per_mode[mode] = figures
    ratios = {k: round(per_mode["data dir"][k] / v, 2) for k, v in per_mode["memory"].items()
              if v and k in per_mode["data dir"]}
    return {"medians": per_mode, "ratios_data_dir_over_memory": ratios}


def markdown(summary: dict[str, Any]) -> str:
    medians, ratios = summary["medians"], summary["ratios_data_dir_over_memory"]
    lines = ["| measure | data dir | memory | ratio |", "|---|---:|---:|---:|"]
    for key in medians["memory"]:
        lines.append(f"| {key} | {medians['data dir'].get(key, '')} | {medians['memory'][key]} | "
                     f"{ratios.get(key, '')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.durability", description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=2, help="rounds of (data dir, memory), order flipped each round")
    p.add_argument("--size-mib", type=int, default=1024, help="the transfer case's file (0: no transfer)")
    p.add_argument("--tasks", type=int, default=3000, help="tasks written for the listing pages (0: no listing)")
    p.add_argument("--repeat", type=int, default=30, help="timed requests of page 1 and of the filtered page")
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "durability.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="haul-bench-durability-") as tmp:
        workdir = Path(tmp)
        source = make_file(workdir, args.size_mib * MiB) if args.size_mib else None
        serve: dict[str, tuple[Path, int | None]] = {f"/{source.name}": (source.path, None)} if source else {}
        origin = Origin("fast", serve, workdir / "origin.log")
        runs: list[dict[str, Any]] = []
        began = time.monotonic()
        try:
            for n in range(1, args.rounds + 1):
                for mode in MODES if n % 2 else tuple(reversed(MODES)):
                    runs.append(run_mode(args, workdir, origin, source, mode, n))
        finally:
            origin.stop()
    summary = summarise(runs)
    doc = {"date": report.now_iso(), "command": " ".join(["python -m bench.durability", *(argv if argv is not None else sys.argv[1:])]), "elapsed_s": round(time.monotonic() - began, 1),
           "machine": report.machine(AWS), "options": vars(args) | {"json": str(args.json)}, "runs": runs, **summary}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(doc, indent=2) + "\n")
    say("\n" + markdown(summary))
    say(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
