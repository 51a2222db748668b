"""``python -m bench`` (``make bench``): Haul's throughput into S3 and its memory, side by side
with the tools a user would pick instead, in one run against the same embedded emulator.

Cases (full run; ``--quick`` uses small files for a smoke run):

1. unthrottled, 1 GiB: Haul (POST -> completed, SHA-256 checked after timing), then
   ``curl | aws s3 cp -``, ``aria2c -x8`` + ``aws s3 cp``, ``rclone copyurl`` (each skipped
   with a note when it cannot be installed);
2. throttled to 20 MiB/s per connection, 1 GiB: Haul, ``curl | aws s3 cp -``, aria2c; and
   ``throttled-256``, the same at 256 MiB (a download's fixed costs weigh more on it);
3. memory: Haul's peak worker-side RSS (sum over the worker processes) for 256 MiB and for
   2 GiB, each in a fresh runtime, and their ratio;
4. the everyday load (bench/everyday.py), in a fresh runtime: admission (POST /batches of
   10/100/500, single adds, how busy 8 slots stay), latency (one 4 MiB file vs
   ``curl | aws s3 cp -``), batch-small (100 x 4 MiB) and batch-medium (20 x 64 MiB) vs
   ``aria2c -j8 -i list`` + ``aws s3 cp --recursive`` and a ``curl | aws s3 cp -`` loop.

Everything it starts (origin, runtime, workers, tools, profiler) is stopped on the way out,
also on Ctrl-C or SIGTERM. The table is printed and written to bench/results/latest.json and
docs/performance.md (between markers, so hand-written analysis around it stays).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import everyday, report
from .cases import AWS, CURL, Result, aria2c_aws, curl_aws, ensure_tools, rclone_copyurl, run_haul
from .files import SourceFile, human, make_file
from .procs import MiB, terminate
from .profile import Spy, find_py_spy, summarise
from .runtime import ROOT, Runtime

GiB = 1024 * MiB
THROTTLE = 20 * MiB
EVERYDAY = ("admission", "latency", "batch-small", "batch-medium")
CASES = ("unthrottled", "throttled", "throttled-256", "memory", *EVERYDAY)


@dataclass(frozen=True)
class Sizes:
    main: int
    throttled: int
    memory_small: int
    memory_large: int
    throttled_small: int


FULL = Sizes(main=1 * GiB, throttled=1 * GiB, memory_small=256 * MiB, memory_large=2 * GiB, throttled_small=256 * MiB)
QUICK = Sizes(main=128 * MiB, throttled=64 * MiB, memory_small=128 * MiB, memory_large=384 * MiB,
              throttled_small=32 * MiB)
# (part size MiB, parallel parts, worker processes, threads per process, progress interval s or None);
# the defaults are 16 / 8 / 2 x 4 / 1 s.
SWEEP: list[tuple[int, int, int, int, float | None]] = [
    (16, 8, 2, 4, 5.0), (32, 8, 2, 4, None), (64, 8, 2, 4, None), (16, 8, 1, 8, None),
    (16, 16, 2, 8, None), (8, 16, 2, 8, None), (8, 32, 2, 16, 5.0),
]


def say(text: str) -> None:
    print(text, flush=True)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small files: a smoke run of every case (~1-2 min)")
    p.add_argument("--only", default=",".join(CASES),
                   help=f"comma-separated cases to run: {', '.join(CASES)} (default: all)")
    p.add_argument("--no-tools", action="store_true", help="Haul only: skip curl/aria2c/rclone except the "
                   "curl|aws baseline the targets need")
    p.add_argument("--no-loop", action="store_true", help="batch cases: leave out the curl | aws s3 cp - loop "
                   "(minutes; the targets compare with the aria2c pipeline)")
    p.add_argument("--part-size", type=int, default=16, metavar="MiB", help="Haul part_size (default 16)")
    p.add_argument("--parallel-parts", type=int, default=8, help="Haul parallel_parts (default 8)")
    p.add_argument("--processes", type=int, default=2, help="HAUL_WORKER_PROCESSES (default 2)")
    p.add_argument("--threads", type=int, default=8, help="HAUL_WORKER_THREADS (default 8)")
    p.add_argument("--progress-interval", type=float, metavar="S",
                   help="HAUL_PROGRESS_INTERVAL: seconds between a lane's progress writes (engine default 1)")
    p.add_argument("--repeat", type=int, default=1,
                   help="run the unthrottled Haul and curl|aws cases N times, alternating; the median is kept")
    p.add_argument("--sweep", action="store_true",
                   help="also run Haul (unthrottled, and throttled unless --only leaves it out) under other "
                        "settings, part MiB/parallel parts/processes x threads: " +
                        ", ".join(f"{a}/{b}/{c}x{d}" + (f" progress {e:g} s" if e else "") for a, b, c, d, e in SWEEP)
                        + " (adds ~6 min)")
    p.add_argument("--profile", action="store_true",
                   help="sample the unthrottled Haul run with py-spy (installed from PyPI into ~/.cache if "
                        "missing) and print where the emulator's and the workers' time goes")
    p.add_argument("--sink", choices=["embedded", "localstack"], default="embedded",
                   help="embedded: everything in the runtime's moto server; localstack: S3 and SQS in LocalStack "
                        "on this machine (localstack/host.py; `make .venv-localstack/.installed` first), "
                        "DynamoDB on moto, and the tools write into the same LocalStack")
    p.add_argument("--origin", choices=["fast", "test"], default="fast",
                   help="fast: bench/origin.py (sendfile, own process); test: tests/support/origin.py")
    p.add_argument("--workdir", type=Path, help="where to put the source files (default: a new temp dir, "
                   "removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the workdir (files, runtime logs)")
    p.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    p.add_argument("--docs", type=Path, default=ROOT / "docs" / "performance.md")
    p.add_argument("--no-docs", action="store_true", help="do not touch docs/performance.md")
    return p.parse_args(argv)


class Origin:
    """The HTTP origin, in its own process (so its CPU is counted apart from the bench's)."""

    def __init__(
        self, kind: str, serve: dict[str, tuple[Path, int | None]], log: Path, trace: Path | None = None
    ) -> None:
        args = [f"{path}={disk}" + (f"@{bps}" if bps else "") for path, (disk, bps) in serve.items()]
        if kind == "fast":
            cmd = [sys.executable, "-m", "bench.origin", *sum((["--serve", a] for a in args), [])]
        else:
            cmd = [sys.executable, "-m", "bench.suite_origin", *sum((["--serve", a] for a in args), [])]
        self._log = open(log, "ab")
        env = {**os.environ, **({"BENCH_ORIGIN_TRACE": str(trace)} if trace else {})}
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"the origin did not start (said {line!r}); see {log}")
        self.port = int(line.split()[1])

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        terminate([self.proc], grace=5)
        self._log.close()


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.sizes = QUICK if args.quick else FULL
        self.results: list[Result] = []
        self.sweep: list[Result] = []
        self.repeats: list[dict[str, Any]] = []  # every run when --repeat > 1 (the table keeps medians)
        self.notes: list[str] = []
        self.profile: dict[str, Any] | None = None
        self.files: dict[int, SourceFile] = {}
        self.origin: Origin | None = None
        self.only = {c.strip() for c in args.only.split(",") if c.strip()}
        self.tools_missing: dict[str, str] = {}
        self._runtimes = 0
        self.counts = everyday.QUICK if args.quick else everyday.FULL
        self.everyday_files: dict[str, SourceFile] = {}
        self.everyday: dict[str, Any] | None = None
        self.sink_env: dict[str, str] = {}
        self.sink: subprocess.Popen[bytes] | None = None

    # -- set-up ---------------------------------------------------------------------------
    def make_files(self) -> None:
        wanted = {self.sizes.main} if "unthrottled" in self.only else set()
        if "throttled" in self.only:
            wanted.add(self.sizes.throttled)
        if "throttled-256" in self.only:
            wanted.add(self.sizes.throttled_small)
        if "memory" in self.only:
            wanted |= {self.sizes.memory_small, self.sizes.memory_large}
        if self.args.sweep:
            wanted |= {self.sizes.main, self.sizes.throttled} if "throttled" in self.only else {self.sizes.main}
        if self.only & set(EVERYDAY):
            wanted |= {4 * MiB, 64 * MiB, everyday.TINY}
        began = time.monotonic()
        for size in sorted(wanted):
            self.files[size] = make_file(self.workdir, size)
        if self.only & set(EVERYDAY):
            self.everyday_files = {
                path: f for path, (f, _) in everyday.paths(self.counts, self.files[4 * MiB], self.files[64 * MiB],
                                                           self.files[everyday.TINY]).items()
            }
        total = sum(wanted)
        say(f"  made {', '.join(human(s) for s in sorted(wanted))} of random bytes ({human(total)}) "
            f"in {time.monotonic() - began:.1f} s under {self.workdir}")

    def start_origin(self) -> Origin:
        serve: dict[str, tuple[Path, int | None]] = {}
        for size, f in self.files.items():
            serve[f"/{f.name}"] = (f.path, None)
            if size in (self.sizes.throttled, self.sizes.throttled_small):
                serve[f"/throttled/{f.name}"] = (f.path, THROTTLE)
        for path, f in self.everyday_files.items():
            serve[path] = (f.path, THROTTLE)
        self.origin = Origin(self.args.origin, serve, self.workdir / "origin.log", self.workdir / "origin-trace.txt")
        return self.origin

    def start_sink(self) -> None:
        """LocalStack's S3 and SQS on this machine (the durability harness's localstack/host.py)."""
        import importlib.util

        spec = importlib.util.spec_from_file_location("haul_localstack_host", ROOT / "localstack" / "host.py")
        assert spec is not None and spec.loader is not None
        host = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(host)
        if not host.VENV_PYTHON.exists():
            raise RuntimeError("LocalStack's venv is missing: run `make .venv-localstack/.installed` first")
        port = host._free_port()
        endpoint = f"http://127.0.0.1:{port}"
        (self.workdir / "localstack").mkdir(exist_ok=True)
        self.sink = host.start(self.workdir / "localstack", port)
        began = time.monotonic()
        while not host._ready(endpoint):
            if self.sink.poll() is not None or time.monotonic() - began > 180:
                raise RuntimeError(f"LocalStack did not start; see {self.workdir / 'localstack' / 'localstack.log'}")
            time.sleep(0.5)
        self.sink_env = {"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL_SQS": endpoint}
        self.notes.append(f"sink: LocalStack's S3 and SQS at {endpoint} (DynamoDB on the runtime's moto); "
                          "LocalStack's CPU is in the 'others' column")
        say(f"  LocalStack (S3, SQS) ready at {endpoint} in {time.monotonic() - began:.1f} s")

    def stop_sink(self) -> None:
        if self.sink is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.sink.pid, signal.SIGTERM)
            try:
                self.sink.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.sink.pid, signal.SIGKILL)
                self.sink.wait()
            self.sink = None

    def url(self, size: int, throttled: bool = False) -> str:
        assert self.origin is not None
        name = self.files[size].name
        return self.origin.url(f"/throttled/{name}" if throttled else f"/{name}")

    @contextlib.contextmanager
    def runtime(self, processes: int | None = None, threads: int | None = None,
                progress_interval: float | None = None) -> Iterator[Runtime]:
        self._runtimes += 1
        log = self.workdir / f"runtime-{self._runtimes}.log"
        began = time.monotonic()
        interval = progress_interval or self.args.progress_interval
        env = {"HAUL_PROGRESS_INTERVAL": f"{interval:g}"} if interval else {}
        env.update(self.sink_env)
        with Runtime(log, processes or self.args.processes, threads or self.args.threads, env) as rt:
            rt.progress_interval = interval
            say(f"  runtime up in {time.monotonic() - began:.1f} s (emulator :{rt.aws_port}, API :{rt.api_port}, "
                f"{rt.processes} workers x {rt.threads} threads, pids {rt.worker_pids()}; log {log})")
            yield rt
        say("  runtime stopped")

    def timeout(self, size: int, throttled: bool = False) -> float:
        rate = 2 * MiB if throttled else 5 * MiB
        return 90 + size / rate

    # -- cases ----------------------------------------------------------------------------
    def haul(self, rt: Runtime, size: int, case: str, throttled: bool = False,
             part_size: int | None = None, parallel_parts: int | None = None,
             extra_groups: dict[str, Callable[[], Iterable[int]]] | None = None) -> Result:
        assert self.origin is not None
        ps = (part_size or self.args.part_size) * MiB
        pp = parallel_parts or self.args.parallel_parts
        say(f"  [{case}] haul {human(size)} (part {ps // MiB} MiB, {pp} parallel parts, "
            f"{rt.processes}x{rt.threads} workers)...")
        try:
            result = run_haul(rt, self.files[size], self.url(size, throttled), case, self.origin.pid,
                              self.timeout(size, throttled), ps, pp, extra_groups=extra_groups, progress=say)
        except Exception as exc:  # noqa: BLE001 - one broken case must not lose the others
            result = Result(case, "haul", size, note=f"{type(exc).__name__}: {exc}"[:300],
                            config={"part_size": ps, "parallel_parts": pp, "worker_processes": rt.processes,
                                    "worker_threads": rt.threads})
        self._show(result)
        return result

    def tool(self, rt: Runtime, which: str, size: int, case: str, throttled: bool = False) -> Result | None:
        assert self.origin is not None
        if which in self.tools_missing:
            return None
        key = f"baseline/{case}/{which}/{self.files[size].name}"
        url = self.url(size, throttled)
        say(f"  [{case}] {which} {human(size)}...")
        run = {"curl": curl_aws, "aria2c": aria2c_aws, "rclone": rclone_copyurl}[which]
        try:
            result = run(rt, url, key, case, size, self.origin.pid, self.timeout(size, throttled), self.workdir)
        except Exception as exc:  # noqa: BLE001 - one broken case must not lose the others
            result = Result(case, {"curl": CURL}.get(which, which), size, note=f"{type(exc).__name__}: {exc}"[:300])
        self._show(result)
        return result

    @staticmethod
    def _show(r: Result) -> None:
        if r.ok:
            say(f"    {r.tool}: {r.seconds:.1f} s, {r.mib_s:.1f} MiB/s, peak RSS {(r.peak_rss or 0) / MiB:.0f} MiB, "
                f"verified {r.verified}")
        else:
            say(f"    {r.tool}: FAILED ({r.note or r.verified})")

    def unthrottled(self) -> None:
        size = self.sizes.main
        with self.runtime() as rt:
            haul_runs: list[Result] = []
            curl_runs: list[Result] = []
            for i in range(max(1, self.args.repeat)):
                haul_runs.append(self.profiled_haul(rt, size, "unthrottled", profile=self.args.profile and i == 0))
                curl = self.tool(rt, "curl", size, "unthrottled")
                if curl:
                    curl_runs.append(curl)
            self.results.append(_median(haul_runs))
            if curl_runs:
                self.results.append(_median(curl_runs))
            if len(haul_runs) > 1:
                self.repeats = [r.as_dict() for r in haul_runs + curl_runs]
                self.notes.append(
                    "unthrottled: median of " + str(len(haul_runs)) + " runs; Haul seconds "
                    + ", ".join(f"{r.seconds or 0:.1f}" for r in haul_runs) + "; curl|aws seconds "
                    + ", ".join(f"{r.seconds or 0:.1f}" for r in curl_runs)
                )
            if not self.args.no_tools:
                for which in ("aria2c", "rclone"):
                    result = self.tool(rt, which, size, "unthrottled")
                    if result:
                        self.results.append(result)
            if "throttled" in self.only:
                self.throttled(rt)
            if "throttled-256" in self.only:
                self.throttled(rt, "throttled-256")

    def throttled(self, rt: Runtime, case: str = "throttled") -> None:
        size = self.sizes.throttled_small if case == "throttled-256" else self.sizes.throttled
        self.results.append(self.profiled_haul(rt, size, case, throttled=True, profile=self.args.profile))
        for which in ("curl",) if self.args.no_tools else ("curl", "aria2c"):
            result = self.tool(rt, which, size, case, throttled=True)
            if result:
                self.results.append(result)

    def memory(self) -> None:
        for size in (self.sizes.memory_small, self.sizes.memory_large):
            with self.runtime() as rt:  # fresh worker processes: nothing left over from another case
                self.results.append(self.haul(rt, size, "memory"))

    def run_sweep(self) -> None:
        """Each setting in a fresh runtime: unthrottled (main size), then throttled if selected."""
        for part, parallel, processes, threads, interval in SWEEP:
            with self.runtime(processes, threads, interval) as rt:
                self.sweep.append(self.haul(rt, self.sizes.main, "sweep unthrottled", part_size=part,
                                            parallel_parts=parallel))
                if "throttled" in self.only:
                    self.sweep.append(self.haul(rt, self.sizes.throttled, "sweep throttled", throttled=True,
                                                part_size=part, parallel_parts=parallel))

    def run_everyday(self) -> None:
        """The everyday cases, in a fresh runtime of their own (bench/everyday.py)."""
        assert self.origin is not None
        if shutil.which("aria2c") is None and not self.args.no_tools:
            self.tools_missing.update(ensure_tools({"aria2c": "aria2"}, progress=say))
            if "aria2c" in self.tools_missing:
                self.notes.append("aria2c is missing (install it with `apt-get install -y aria2`); "
                                  "the batch cases are compared with the curl loop only")
        origin = self.origin
        with self.runtime() as rt:
            day = everyday.Everyday(rt, origin.url, self.everyday_files, origin.pid, self.workdir / "origin-trace.txt",
                                    self.workdir, self.counts, say, with_tools=not self.args.no_tools,
                                    with_loop=not self.args.no_loop)
            steps: list[tuple[str, Callable[[], None]]] = [
                ("admission", day.admission), ("latency", day.latency),
                ("batch-small", lambda: day.batch("batch-small", "/small/")),
                ("batch-medium", lambda: day.batch("batch-medium", "/medium/")),
            ]
            for case, step in steps:
                if case not in self.only:
                    continue
                say(f"  [{case}]")
                try:
                    step()
                except Exception as exc:  # noqa: BLE001 - one broken case must not lose the others
                    self.notes.append(f"{case}: {type(exc).__name__}: {exc}"[:300])
                    say(f"    FAILED: {type(exc).__name__}: {exc}")
        self.everyday = {"results": [r.as_dict() for r in day.results], "figures": day.figures}

    def profiled_haul(self, rt: Runtime, size: int, case: str, throttled: bool = False,
                      profile: bool = False) -> Result:
        """A Haul run, sampled by py-spy when ``profile`` (the profiler's CPU is counted apart)."""
        spies = self._start_profile(rt, case) if profile else []
        spy_pids = [s.proc.pid for s in spies]

        def profiler(pids: list[int] = spy_pids) -> list[int]:
            return pids

        try:
            result = self.haul(
                rt, size, case, throttled=throttled, extra_groups={"profiler": profiler} if spies else None
            )
        finally:
            for spy in spies:
                spy.stop()
        if spies:
            self.profile = self.profile or {}
            self.profile[case] = summarise(spies[0].out, [s.out for s in spies[1:]])
            result.note = "profiled: slowed by py-spy sampling (see the profiler's CPU in the JSON)"
        return result

    def _start_profile(self, rt: Runtime, case: str) -> list[Spy]:
        py_spy = find_py_spy(install=True, progress=say)
        if py_spy is None:
            self.notes.append("--profile: py-spy is not available, no profile taken")
            return []
        assert rt.proc is not None
        spies = [Spy(py_spy, rt.proc.pid, self.workdir / f"profile-{case}-runtime.txt", "--gil")]
        for i, pid in enumerate(rt.worker_pids()):
            spies.append(Spy(py_spy, pid, self.workdir / f"profile-{case}-worker{i}.txt", "--idle"))
        time.sleep(0.5)  # let py-spy attach before the clock starts
        return spies

    # -- all of it ------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        began = time.monotonic()
        say("Haul benchmark" + (" (quick: small files, a smoke run)" if self.args.quick else ""))
        if not self.args.no_tools and "unthrottled" in self.only:
            self.tools_missing = ensure_tools({"aria2c": "aria2", "rclone": "rclone"}, progress=say)
        if shutil.which("curl") is None:
            self.tools_missing["curl"] = "curl is not installed"
        for note in self.tools_missing.values():
            self.notes.append(note + "; skipped")
            say("  " + note + "; skipped")
        if self.args.sink == "localstack":
            self.start_sink()
        self.make_files()
        self.start_origin()
        say(f"  origin ({self.args.origin}) on :{self.origin.port if self.origin else '?'}")
        if "unthrottled" in self.only:
            self.unthrottled()
        elif self.only & {"throttled", "throttled-256"}:
            with self.runtime() as rt:
                for case in ("throttled", "throttled-256"):
                    if case in self.only:
                        self.throttled(rt, case)
        if "memory" in self.only:
            self.memory()
        if self.args.sweep:
            self.run_sweep()
        if self.only & set(EVERYDAY):
            self.run_everyday()
        results = [r.as_dict() for r in self.results]
        run = {
            "date": report.now_iso(),
            "command": report.command_line(),
            "elapsed_s": round(time.monotonic() - began, 1),
            "machine": report.machine(AWS),
            "options": {
                "quick": self.args.quick, "part_size_mib": self.args.part_size,
                "parallel_parts": self.args.parallel_parts, "processes": self.args.processes,
                "threads": self.args.threads, "origin": self.args.origin, "repeat": self.args.repeat,
                "progress_interval": self.args.progress_interval, "sink": self.args.sink,
                "throttle_bps_per_connection": THROTTLE,
                "sizes": {k: human(v) for k, v in vars(self.sizes).items()},
            },
            "results": results,
            "targets": report.ratios(results, human(self.sizes.memory_small), human(self.sizes.memory_large)),
            "sweep": [r.as_dict() for r in self.sweep],
            "repeats": self.repeats,
            "profile": self.profile,
            "notes": self.notes,
            "everyday": self.everyday,
        }
        if self.everyday is not None:
            self.everyday["targets"] = everyday.ratios(self.everyday["results"], self.everyday["figures"])
        return run


def _median(runs: list[Result]) -> Result:
    ok = sorted((r for r in runs if r.ok), key=lambda r: r.seconds or 0.0)
    return ok[len(ok) // 2] if ok else runs[0]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="haul-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    bench = Bench(args, workdir)
    try:
        run = bench.run()
    except KeyboardInterrupt:
        say("\ninterrupted: stopping everything the bench started")
        return 130
    finally:
        if bench.origin is not None:
            bench.origin.stop()
        bench.stop_sink()
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        elif args.keep:
            say(f"  kept {workdir}")
    say(report.text_summary(run))
    report.write_json(run, args.json)
    say(f"\nwrote {args.json}")
    if not args.no_docs:
        report.write_docs(run, args.docs)
        say(f"wrote {args.docs}")
    failed = [r for r in run["results"] if not r["ok"] and r["tool"] == "haul"]
    return 1 if failed else 0
