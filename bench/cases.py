"""One measured transfer each: Haul through its REST API, or a tool a user would pick instead."""

from __future__ import annotations

import os
import resource
import shlex
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .files import SourceFile, human
from .procs import CpuMeter, MiB, RssSampler, descendants, kill_pids, terminate
from .runtime import BUCKET, ROOT, Runtime, clean_env

AWS = str(ROOT / ".venv" / "bin" / "aws") if (ROOT / ".venv" / "bin" / "aws").exists() else "aws"
CURL = "curl | aws s3 cp -"


@dataclass
class Result:
    case: str  # "unthrottled", "throttled", "memory", "sweep"
    tool: str  # "haul", "curl | aws s3 cp -", ...
    size: int  # bytes of the source file
    seconds: float | None = None  # from the start to the object being in the bucket
    peak_rss: int | None = None  # highest sampled sum of RSS over the measured processes
    hwm_sum: int | None = None  # sum of their VmHWM at the end (upper bound of that peak)
    ok: bool = False
    verified: str = ""  # "sha256", "size", or what failed
    note: str = ""
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process group
    machine_busy: float | None = None  # share of all CPUs busy during the case, 0..1
    config: dict[str, Any] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)  # e.g. Haul's phase timings

    @property
    def mib_s(self) -> float | None:
        return self.size / MiB / self.seconds if self.ok and self.seconds else None

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["source"] = human(self.size)
        out["mib_s"] = round(self.mib_s, 1) if self.mib_s else None
        out["seconds"] = round(self.seconds, 2) if self.seconds else None
        out["cpu"] = {k: round(v, 2) for k, v in self.cpu.items()}
        out["machine_busy"] = round(self.machine_busy, 2) if self.machine_busy is not None else None
        return out


class Measure:
    """Wall time, CPU by group (and of everyone else), and the peak summed RSS of ``rss_pids``."""

    def __init__(self, result: Result, rss_pids: Callable[[], Iterable[int]],
                 groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self.result = result
        me = os.getpid()
        self._rss = RssSampler(rss_pids)
        self._cpu = CpuMeter({**groups, "bench": lambda: [me]})
        self._children0 = 0.0
        self.began = 0.0

    def __enter__(self) -> Measure:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._children0 = usage.ru_utime + usage.ru_stime
        self._rss.__enter__()
        self._cpu.__enter__()
        self.began = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.result.seconds = time.monotonic() - self.began
        self._cpu.__exit__()
        self._rss.stop()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        reaped = usage.ru_utime + usage.ru_stime - self._children0  # tools that ran and were waited for
        cpu = dict(self._cpu.used)
        if reaped > 0.005:
            cpu["tool"] = cpu.get("tool", 0.0) + reaped
        cpu["others"] = max(0.0, self._cpu.machine_busy - sum(cpu.values()))
        self.result.cpu = cpu
        self.result.machine_busy = self._cpu.machine_busy / max(self._cpu.wall * (os.cpu_count() or 1), 1e-9)
        self.result.peak_rss, self.result.hwm_sum = self._rss.peak, self._rss.hwm_sum
        self.result.detail["rss_at_start"] = self._rss.first


def phases(began: float, timeline: list[tuple[float, str, int, int]], parts: int) -> dict[str, Any]:
    """Seconds from the POST to the first part recorded, to the last, and to completed."""

    def first(pred: Callable[[tuple[float, str, int, int]], bool]) -> float | None:
        return next((round(t[0] - began, 2) for t in timeline if pred(t)), None)

    first_part = first(lambda t: t[2] >= 1)
    all_parts = first(lambda t: parts > 0 and t[2] >= parts)
    done = first(lambda t: t[1] in {"completed", "failed", "cancelled"})
    out: dict[str, Any] = {"parts": parts, "first_part_s": first_part, "all_parts_s": all_parts, "done_s": done}
    if all_parts is not None and done is not None:
        out["finalize_s"] = round(done - all_parts, 2)
    return out


def run_haul(
    rt: Runtime, source: SourceFile, url: str, case: str, origin_pid: int | None, timeout: float,
    part_size: int, parallel_parts: int, verify_sha: bool = True,
    extra_groups: dict[str, Callable[[], Iterable[int]]] | None = None,
    progress: Callable[[str], None] = print,
) -> Result:
    """POST the URL and poll until completed: time, CPU, worker RSS; then verify the object."""
    config = {
        "part_size": part_size, "parallel_parts": parallel_parts,
        "worker_processes": rt.processes, "worker_threads": rt.threads,
        "progress_interval": rt.progress_interval,
    }
    result = Result(case, "haul", source.size, config=config)
    rt.settings(part_size=part_size, parallel_parts=parallel_parts, max_concurrent_downloads=3)
    assert rt.proc is not None
    runtime_pid = rt.proc.pid
    groups: dict[str, Callable[[], Iterable[int]]] = {"runtime": lambda: [runtime_pid], "workers": rt.worker_pids}
    if origin_pid:
        groups["origin"] = lambda: [origin_pid]
    groups.update(extra_groups or {})
    task: dict[str, Any] = {}
    timeline: list[tuple[float, str, int, int]] = []
    try:
        with Measure(result, rt.worker_pids, groups) as measure:
            task_id = rt.add(url)
            task = rt.wait_done(task_id, timeout, timeline)
    except (TimeoutError, RuntimeError) as exc:
        result.note = str(exc)[:300]
        return result
    result.detail.update(phases(measure.began, timeline, int(task.get("parts_total") or 0)))
    if task.get("state") != "completed":
        result.note = f"state {task.get('state')}: {task.get('error')}"
        return result
    key = str(task.get("key"))
    stored = rt.object_size(key)
    if stored != source.size:
        result.verified = f"size {stored} != {source.size}"
    elif verify_sha:
        progress("    verifying the stored object's SHA-256 (not timed)")
        got = rt.object_sha256(key)
        result.verified = "sha256" if got == source.sha256 else f"sha256 mismatch ({got[:12]}...)"
    else:
        result.verified = "size"
    result.ok = result.verified in {"sha256", "size"}
    rt.delete_object(key)
    return result


def run_tool(
    rt: Runtime, tool: str, script: str, key: str, case: str, size: int, origin_pid: int | None,
    timeout: float, workdir: Path, env: dict[str, str] | None = None,
) -> Result:
    """Run ``script`` with bash (pipefail), timed end to end, RSS summed over its processes."""
    result = Result(case, tool, size, config={"command": script})
    assert rt.proc is not None
    runtime_pid = rt.proc.pid
    groups: dict[str, Callable[[], Iterable[int]]] = {"runtime": lambda: [runtime_pid]}
    if origin_pid:
        groups["origin"] = lambda: [origin_pid]
    log = workdir / "tool-output.log"
    started: list[int] = []
    with open(log, "wb") as out:
        with Measure(result, lambda: [started[0], *descendants(started[0])] if started else [], groups):
            proc = subprocess.Popen(
                ["bash", "-c", "set -euo pipefail\n" + script], cwd=workdir, env=clean_env(**(env or {})),
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            started.append(proc.pid)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _stop_tree(proc)
                result.note = f"timed out after {timeout:.0f} s"
            except BaseException:  # Ctrl-C, SIGTERM: leave nothing running
                _stop_tree(proc)
                raise
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        result.note = result.note or f"exit {proc.returncode}: {' | '.join(tail)[:300]}"
        return result
    stored = rt.object_size(key)
    result.verified = "size" if stored == size else f"size {stored} != {size}"
    result.ok = stored == size
    rt.delete_object(key)
    return result


def _stop_tree(proc: subprocess.Popen[bytes]) -> None:
    kids = descendants(proc.pid)
    terminate([proc], grace=2)
    kill_pids(kids)


def _aws_env(rt: Runtime) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": rt.s3_endpoint, "AWS_EC2_METADATA_DISABLED": "true"}


def curl_aws(rt: Runtime, url: str, key: str, case: str, size: int, origin_pid: int | None,
             timeout: float, workdir: Path) -> Result:
    """What a user types: ``curl -s URL | aws s3 cp - s3://bucket/key``."""
    script = (
        f"curl -sfS {shlex.quote(url)} | {shlex.quote(AWS)} s3 cp - s3://{BUCKET}/{key} "
        f"--endpoint-url {rt.s3_endpoint} --only-show-errors"
    )
    return run_tool(rt, CURL, script, key, case, size, origin_pid, timeout, workdir, _aws_env(rt))


def aria2c_aws(rt: Runtime, url: str, key: str, case: str, size: int, origin_pid: int | None,
               timeout: float, workdir: Path, connections: int = 8) -> Result:
    """aria2c with 8 connections to a local file, then ``aws s3 cp`` of that file."""
    tmp = Path(tempfile.mkdtemp(prefix="aria2-", dir=workdir))
    script = (
        f"aria2c -q -x{connections} -s{connections} --file-allocation=none --allow-overwrite=true "
        f"--auto-file-renaming=false -d {shlex.quote(str(tmp))} -o download.bin {shlex.quote(url)}\n"
        f"{shlex.quote(AWS)} s3 cp {shlex.quote(str(tmp / 'download.bin'))} s3://{BUCKET}/{key} "
        f"--endpoint-url {rt.s3_endpoint} --only-show-errors"
    )
    try:
        return run_tool(rt, f"aria2c -x{connections} + aws s3 cp", script, key, case, size, origin_pid,
                        timeout, workdir, _aws_env(rt))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def rclone_copyurl(rt: Runtime, url: str, key: str, case: str, size: int, origin_pid: int | None,
                   timeout: float, workdir: Path) -> Result:
    """``rclone copyurl`` straight into the bucket (an on-the-fly S3 remote, default tuning)."""
    remote = (
        f":s3,provider=Other,endpoint='{rt.s3_endpoint}',access_key_id=testing,secret_access_key=testing,"
        f"region=us-east-1,force_path_style=true:{BUCKET}/{key}"
    )
    # --s3-no-head: moto answers 400 to the HEAD ?versionId=null rclone sends after a multipart upload.
    script = f"rclone copyurl -q --s3-no-head --retries 1 --config /dev/null {shlex.quote(url)} {shlex.quote(remote)}"
    return run_tool(rt, "rclone copyurl", script, key, case, size, origin_pid, timeout, workdir)


def ensure_tools(names: dict[str, str], progress: Callable[[str], None] = print) -> dict[str, str]:
    """Make sure the binaries (binary -> Debian package) are on PATH, installing missing ones.

    Returns binary -> why it is unavailable, for those still missing.
    """
    missing = {binary: pkg for binary, pkg in names.items() if shutil.which(binary) is None}
    if not missing:
        return {}
    apt = shutil.which("apt-get")
    if apt is None:
        return {b: f"{b} is not installed (and there is no apt-get to install {p})" for b, p in missing.items()}
    packages = sorted(set(missing.values()))
    progress(f"  installing {', '.join(packages)} with apt-get (quietly)...")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    install = [*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", *packages]
    reason = ""
    try:
        done = subprocess.run(install, env=env, capture_output=True, timeout=300)
        if done.returncode != 0:
            # A fresh machine may have no package lists yet: update once, then try again.
            subprocess.run([*sudo, apt, "update", "-qq"], env=env, capture_output=True, timeout=300)
            done = subprocess.run(install, env=env, capture_output=True, timeout=300)
        if done.returncode != 0:
            reason = (done.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1][:160]
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = str(exc)[:160]
    return {
        binary: f"{binary} is not installed: apt-get install {pkg} failed ({reason})"
        for binary, pkg in missing.items() if shutil.which(binary) is None
    }
