"""Processes: finding children, sampling memory and CPU from /proc, stopping what we started."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
MiB = 1024 * 1024


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (from /proc/<pid>/task/*/children)."""
    out: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return out
    for task in tasks:
        try:
            out.extend(int(p) for p in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``, depth first."""
    out: list[int] = []
    stack = children(pid)
    while stack:
        child = stack.pop()
        out.append(child)
        stack.extend(children(child))
    return out


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM...), 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def rss_bytes(pid: int) -> int:
    """Resident set size from /proc/<pid>/statm (cheaper to read than status)."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except (OSError, ValueError, IndexError):
        return 0


def reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current RSS (``echo 5 > /proc/<pid>/clear_refs``)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(v) for v in fh.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / TICKS, total / TICKS


class RssSampler:
    """Samples the summed RSS of a changing set of processes in a background thread.

    ``pids`` is called at each sample, so workers that start (or are restarted) during the
    run are counted. ``peak`` is the highest sum seen; ``hwm_sum`` (after :meth:`stop`) is
    the sum of each process's own VmHWM, an upper bound of the true peak of the sum.
    """

    def __init__(self, pids: Callable[[], Iterable[int]], interval: float = 0.05) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self.peak = 0
        self.first: int | None = None  # the summed RSS when sampling began (the idle baseline)
        self.samples = 0
        self.seen: set[int] = set()
        self.hwm_sum = 0

    def __enter__(self) -> RssSampler:
        for pid in self._pids():
            reset_peak(pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._interval)

    def sample(self) -> int:
        pids = list(self._pids())
        self.seen.update(pids)
        total = sum(rss_bytes(pid) for pid in pids)
        if self.first is None:
            self.first = total
        self.peak = max(self.peak, total)
        self.samples += 1
        return total

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        pids = list(self._pids())
        self.sample()
        self.hwm_sum = sum(status_kib(pid, "VmHWM") * 1024 for pid in pids)


class CpuMeter:
    """CPU seconds used by named groups of processes between start and stop."""

    def __init__(self, groups: dict[str, Callable[[], Iterable[int]]]) -> None:
        self._groups = groups
        self._start: dict[str, dict[int, float]] = {}
        self._machine: tuple[float, float] = (0.0, 0.0)
        self.used: dict[str, float] = {}
        self.machine_busy = 0.0
        self.wall = 0.0
        self._began = 0.0

    def __enter__(self) -> CpuMeter:
        self._began = time.monotonic()
        self._machine = machine_cpu()
        self._start = {name: {pid: cpu_seconds(pid) for pid in pids()} for name, pids in self._groups.items()}
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.monotonic() - self._began
        busy, total = machine_cpu()
        self.machine_busy = busy - self._machine[0]
        for name, pids in self._groups.items():
            before = self._start.get(name, {})
            self.used[name] = sum(max(0.0, cpu_seconds(pid) - before.get(pid, 0.0)) for pid in pids())


def terminate(procs: Iterable[subprocess.Popen[bytes] | subprocess.Popen[str]], grace: float = 10.0) -> None:
    """SIGTERM each process we started, then SIGKILL whatever is still there after ``grace``."""
    procs = [p for p in procs if p.poll() is None]
    for proc in procs:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def kill_pids(pids: Iterable[int]) -> None:
    """SIGKILL these exact pids if they still exist (processes we started, by id)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
