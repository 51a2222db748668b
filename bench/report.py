"""The summary: a plain-text table for the terminal, JSON for machines, markdown for docs/."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import everyday
from .files import human
from .procs import MiB

TARGETS = {
    "unthrottled": ("Haul / curl|aws, unthrottled", ">= 1.25x"),
    "throttled": ("Haul / curl|aws, throttled 20 MiB/s per connection", ">= 5x"),
    "throttled-256": ("Haul / curl|aws, 256 MiB throttled 20 MiB/s per connection", ">= 5x"),
    "memory": ("Haul worker peak RSS, 2 GiB vs 256 MiB", "within +-10%"),
}
BEGIN = "<!-- bench:begin (written by `make bench`; edits between these markers are replaced) -->"
END = "<!-- bench:end -->"
EVERYDAY_BEGIN = "<!-- bench:everyday:begin (written by `make bench`; edits between these markers are replaced) -->"
EVERYDAY_END = "<!-- bench:everyday:end -->"


def _version(cmd: list[str]) -> str:
    if shutil.which(cmd[0]) is None and not Path(cmd[0]).exists():
        return "not installed"
    try:
        out = subprocess.run(cmd, capture_output=True, timeout=20).stdout.decode(errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.strip().splitlines()[0][:80] if out.strip() else "?"


def machine(aws: str) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    model = "?"
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        model = found.group(1).strip() if found else "?"
    except OSError:
        pass
    import boto3
    import botocore
    import moto

    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "moto": moto.__version__,
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "aws_cli": _version([aws, "--version"]),
        "curl": _version(["curl", "--version"]),
        "aria2c": _version(["aria2c", "--version"]),
        "rclone": _version(["rclone", "version"]),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def _mib(value: int | None) -> str:
    return f"{value / MiB:.0f}" if value else "-"


def _num(value: float | None, fmt: str = "{:.1f}") -> str:
    return fmt.format(value) if value is not None else "-"


def ratios(results: list[dict[str, Any]], memory_small: str, memory_large: str) -> list[dict[str, Any]]:
    """The three targets, each with its measured value and verdict."""

    def speed(case: str, tool: str) -> float | None:
        found = [r["mib_s"] for r in results if r["case"] == case and r["tool"] == tool and r["ok"]]
        return found[0] if found else None

    out = []
    for key, case in (("unthrottled", "unthrottled"), ("throttled", "throttled"), ("throttled-256", "throttled-256")):
        haul, curl = speed(case, "haul"), speed(case, "curl | aws s3 cp -")
        value = haul / curl if haul and curl else None
        if value is None and key == "throttled-256":
            continue  # a case added later: older runs and partial runs leave it out
        need = 1.25 if key == "unthrottled" else 5.0
        out.append({
            "target": key, "what": TARGETS[key][0], "goal": TARGETS[key][1],
            "value": round(value, 2) if value else None,
            "met": bool(value and value >= need),
        })
    small = [r for r in results if r["case"] == "memory" and r["tool"] == "haul" and r["source"] == memory_small]
    large = [r for r in results if r["case"] == "memory" and r["tool"] == "haul" and r["source"] == memory_large]
    value = None
    if small and large and small[0]["ok"] and large[0]["ok"] and small[0]["peak_rss"]:
        value = large[0]["peak_rss"] / small[0]["peak_rss"]
    out.append({
        "target": "memory", "what": f"Haul worker peak RSS, {memory_large} vs {memory_small}",
        "goal": TARGETS["memory"][1], "value": round(value, 3) if value else None,
        "met": bool(value and 0.9 <= value <= 1.1),
    })
    return out


def _rows(results: list[dict[str, Any]]) -> list[list[str]]:
    curl = {r["case"]: r["mib_s"] for r in results if r["tool"] == "curl | aws s3 cp -" and r["ok"]}
    rows = []
    for r in results:
        base = curl.get(r["case"])
        vs = f"{r['mib_s'] / base:.2f}x" if r["mib_s"] and base else "-"
        status = r["verified"] if r["ok"] else ("FAILED: " + (r["note"] or r["verified"]))[:60]
        rows.append([
            r["case"], r["tool"], r["source"], _num(r["seconds"], "{:.1f}"), _num(r["mib_s"]),
            _mib(r["peak_rss"]), vs, status,
        ])
    return rows


HEAD = ["case", "tool", "size", "seconds", "MiB/s", "peak RSS MiB", "vs curl", "verified"]
CPU_HEAD = ["case", "tool", "wall s", "emulator+API", "workers", "tool", "origin", "bench", "others",
            "machine busy"]


def _cpu_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        cpu = r["cpu"]
        rows.append([
            r["case"], r["tool"], _num(r["seconds"]), _num(cpu.get("runtime")), _num(cpu.get("workers")),
            _num(cpu.get("tool")), _num(cpu.get("origin")), _num(cpu.get("bench")), _num(cpu.get("others")),
            f"{r['machine_busy'] * 100:.0f}%" if r.get("machine_busy") is not None else "-",
        ])
    return rows


SWEEP_HEAD = ["case", "size", "part MiB", "parallel", "procs x threads", "progress s", "seconds", "MiB/s",
              "peak RSS MiB",
              "emulator CPU", "others CPU", "first/all parts/done s"]


def _sweep_rows(sweep: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in sweep:
        c, d = r["config"], r.get("detail") or {}
        rows.append([
            r["case"], r["source"], str(c["part_size"] // MiB), str(c["parallel_parts"]),
            f"{c['worker_processes']}x{c['worker_threads']}", str(c.get("progress_interval") or 1),
            _num(r["seconds"]),
            _num(r["mib_s"]) if r["ok"] else "FAILED", _mib(r["peak_rss"]), _num(r["cpu"].get("runtime")),
            _num(r["cpu"].get("others")), f"{d.get('first_part_s')}/{d.get('all_parts_s')}/{d.get('done_s')}",
        ])
    return rows


def _text_table(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=False))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)) for row in rows]
    return "\n".join(out)


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return "\n".join(out)


def _target_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [t["what"], t["goal"], f"{t['value']}" + ("x" if t["target"] != "memory" else "") if t["value"] else "-",
         "met" if t["met"] else "MISSED"]
        for t in targets
    ]


def _profile_text(profile: dict[str, Any] | None, md: bool) -> str:
    if not profile:
        return ""
    parts = []
    for key, title in (
        ("runtime_gil", "Emulator process (moto + REST API), share of GIL-holding samples"),
        ("worker_threads_busy", "Worker poller threads, share of busy wall time (waiting for messages excluded)"),
        ("worker_threads_wall", "Worker poller threads, share of all wall time"),
    ):
        shares = profile.get(key) or {}
        rows = [[name, f"{pct:.1f}%"] for name, pct in list(shares.items())[:14]]
        if not rows:
            continue
        parts.append(("\n#### " if md else "\n") + title + ("\n\n" if md else "\n"))
        parts.append(_md_table(["stage", "share"], rows) if md else _text_table(["stage", "share"], rows))
    return "\n".join(parts)


def text_summary(run: dict[str, Any]) -> str:
    out = ["", "Haul benchmark - " + run["date"], ""]
    out.append(_text_table(HEAD, _rows(run["results"])))
    out += ["", "Targets:", _text_table(["target", "goal", "measured", "verdict"], _target_rows(run["targets"]))]
    out += ["", "CPU seconds used during each case (others = processes not started by the bench):",
            _text_table(CPU_HEAD, _cpu_rows(run["results"]))]
    haul = [r for r in run["results"] if r["tool"] == "haul" and r.get("detail")]
    if haul:
        out += ["", "Haul phases (seconds from POST): first part recorded / all parts recorded / completed:"]
        for r in haul:
            d = r["detail"]
            out.append(f"  {r['case']:<12} {r['source']:<8} parts {d.get('parts')}: {d.get('first_part_s')} / "
                       f"{d.get('all_parts_s')} / {d.get('done_s')}  (finalize {d.get('finalize_s')} s); worker RSS "
                       f"{_mib(d.get('rss_at_start'))} MiB idle -> {_mib(r['peak_rss'])} MiB peak")
    if run.get("sweep"):
        out += ["", "Settings sweep (Haul):", _text_table(SWEEP_HEAD, _sweep_rows(run["sweep"]))]
    for case, profile in (run.get("profile") or {}).items():
        out += ["", f"Profile of the {case} Haul run:", _profile_text(profile, md=False)]
    day = run.get("everyday")
    if day:
        out += ["", "Everyday load:", _text_table(everyday.SECONDS_HEAD, everyday.seconds_table(day["results"])),
                "", "Everyday targets:",
                _text_table(["target", "goal", "measured", "verdict"],
                            [[t["what"], t["goal"], t["value"] or "-", "met" if t["met"] else "MISSED"]
                             for t in day.get("targets", [])])]
    for note in run.get("notes", []):
        out.append("note: " + note)
    return "\n".join(out)


def markdown(run: dict[str, Any]) -> str:
    m = run["machine"]
    opts = run["options"]
    out = [
        f"## Latest run: {run['date']}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB memory, Linux {m['kernel']}, "
        f"Python {m['python']}; moto {m['moto']}, boto3 {m['boto3']}; {m['aws_cli']}; "
        f"load average at start {m['load_average_at_start']}.",
        f"Haul settings: part_size {opts['part_size_mib']} MiB, parallel_parts {opts['parallel_parts']}, "
        f"{opts['processes']} worker processes x {opts['threads']} threads; origin: {opts['origin']}"
        + ("; **quick mode (small files: not a measurement)**" if opts.get("quick") else "") + ".",
        f"Command: `{run['command']}` ({run['elapsed_s']:.0f} s in all).",
        "",
        _md_table(HEAD, _rows(run["results"])),
        "",
        "Targets:",
        "",
        _md_table(["target", "goal", "measured", "verdict"], _target_rows(run["targets"])),
        "",
        "CPU seconds used during each case (emulator+API = the runtime process, which hosts moto's "
        "server; others = processes the bench did not start, i.e. whatever else shares the machine):",
        "",
        _md_table(CPU_HEAD, _cpu_rows(run["results"])),
    ]
    haul = [r for r in run["results"] if r["tool"] == "haul" and r.get("detail")]
    if haul:
        out += ["", "Haul phases, seconds from the POST:", "",
                _md_table(["case", "size", "parts", "first part recorded", "all parts recorded", "completed",
                           "finalize", "worker RSS idle MiB", "worker RSS peak MiB"],
                          [[r["case"], r["source"], str(r["detail"].get("parts")), str(r["detail"].get("first_part_s")),
                            str(r["detail"].get("all_parts_s")), str(r["detail"].get("done_s")),
                            str(r["detail"].get("finalize_s")), _mib(r["detail"].get("rss_at_start")),
                            _mib(r["peak_rss"])] for r in haul])]
    for case, profile in (run.get("profile") or {}).items():
        out += ["", f"### Profile of the {case} Haul run", _profile_text(profile, md=True)]
    if run.get("sweep"):
        out += ["", "### Settings sweep (Haul; the default settings are in the table above)", "",
                _md_table(SWEEP_HEAD, _sweep_rows(run["sweep"]))]
    notes = run.get("notes", [])
    if notes:
        out += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def write_json(run: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run, indent=2) + "\n")


def _replace(text: str, begin: str, end: str, body: str) -> str:
    block = f"{begin}\n{body}{end}"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        return head + block + tail
    return (text or "# Performance\n\nMeasured by `make bench` (`python -m bench`).\n") + "\n" + block + "\n"


def write_docs(run: dict[str, Any], path: Path) -> None:
    """Replace the generated sections of docs/performance.md (the single-file cases; the
    everyday load), keeping the prose around them and a section this run did not measure."""
    text = path.read_text() if path.exists() else ""
    if run["results"]:
        text = _replace(text, BEGIN, END, markdown(run))
    if run.get("everyday"):
        text = _replace(text, EVERYDAY_BEGIN, EVERYDAY_END, everyday.markdown(run, _md_table) + "\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def now_iso() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z")


def command_line() -> str:
    return "python -m bench " + " ".join(sys.argv[1:]) if sys.argv[1:] else "python -m bench"


__all__ = ["human", "machine", "markdown", "ratios", "text_summary", "write_docs", "write_json"]
