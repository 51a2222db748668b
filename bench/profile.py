"""Sampling profiles of the runtime and the workers with py-spy, summarised by stage.

- The runtime process (moto's server + the REST API) is sampled with ``--gil``: only the
  thread holding the GIL is recorded, so the shares say what the emulator spends its one
  usable core on (UploadPart, CompleteMultipartUpload, DynamoDB, SQS...).
- The workers are sampled with ``--idle``: every poller thread, busy or waiting, so the
  shares say where a lane's wall time goes (origin GET, S3 UploadPart, DynamoDB, SQS).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from .runtime import ROOT

CACHE = Path.home() / ".cache" / "haul-bench" / "py-spy"


def find_py_spy(install: bool, progress: Callable[[str], None] = print) -> str | None:
    for candidate in (shutil.which("py-spy"), ROOT / ".venv" / "bin" / "py-spy", CACHE / "bin" / "py-spy"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    if not install:
        return None
    progress(f"  installing py-spy from PyPI into {CACHE} (not into the project's venv)...")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(CACHE), "py-spy"],
        capture_output=True, timeout=300,
    )
    if done.returncode != 0 or not (CACHE / "bin" / "py-spy").exists():
        progress("  py-spy could not be installed: " + done.stderr.decode(errors="replace")[-300:])
        return None
    return str(CACHE / "bin" / "py-spy")


class Spy:
    """``py-spy record`` on one pid until stopped (SIGINT makes it write its output)."""

    def __init__(self, py_spy: str, pid: int, out: Path, mode: str, rate: int = 67) -> None:
        self.out = out
        self.proc = subprocess.Popen(
            [py_spy, "record", mode, "--nonblocking", "-r", str(rate), "-f", "raw", "-o", str(out),
             "--pid", str(pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _stacks(path: Path) -> list[tuple[str, int]]:
    out = []
    try:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                out.append((stack, int(count)))
    except OSError:
        pass
    return out


_DDB = re.compile(r"DynamoHandler\.(\w+) \(")
_SQS = re.compile(r"SQSResponse\.(\w+) \(")
_S3 = re.compile(r"S3Response\.(\w+) \(")


def runtime_category(stack: str) -> str:
    if "complete_multipart_upload" in stack:
        return "S3 CompleteMultipartUpload"
    if "S3Response.upload_part" in stack:
        return "S3 UploadPart (store the part)"
    if "S3Response" in stack and "Request.get_data" in stack:
        return "S3 read request bodies (UploadPart data)"
    if "get_object" in stack or "FakeKey.value" in stack:
        return "S3 GetObject / HeadObject"
    m = _DDB.search(stack.replace("DynamoHandler.call_action", ""))
    if m:
        return f"DynamoDB {m.group(1)}"
    m = _SQS.search(stack.replace("SQSResponse.call_action", ""))
    if m:
        return f"SQS {m.group(1)}"
    if "DynamoHandler" in stack:
        return "DynamoDB (parse / serialise)"
    if "SQSResponse" in stack:
        return "SQS (parse / serialise)"
    if "S3Response" in stack or "moto/s3/" in stack:
        m = _S3.search(stack.replace("S3Response.key_dispatch", "").replace("S3Response.key_response", ""))
        return f"S3 {m.group(1) if m else 'other'}"
    if "ResponseSerializer" in stack:
        return "moto JSON response serialisation (DynamoDB/SQS)"
    if "ChaliceRequestHandler" in stack or "chalice/local.py" in stack:
        return "REST API (Chalice local; the bench's polling)"
    if "realtime" in stack or "stream_poller" in stack or "ws_gateway" in stack or "fanout" in stack:
        return "real-time fan-out (stream poller, WebSocket)"
    if "get_backend_for_host" in stack or "list_of_moto_modules" in stack:
        return "moto request routing"
    if "werkzeug" in stack or "socketserver" in stack or "http/server" in stack:
        return "HTTP server plumbing (werkzeug)"
    return "other"


def _poller_lines() -> tuple[set[int], set[int]]:
    """Line numbers of the receive and delete calls in local_runtime/sqs_poller.py."""
    receive, delete = set(), set()
    try:
        for i, line in enumerate((ROOT / "local_runtime" / "sqs_poller.py").read_text().splitlines(), 1):
            if "receive_message(" in line:
                receive.add(i)
            if "delete_message_batch(" in line or "delete_message(" in line:
                delete.add(i)
    except OSError:
        pass
    return receive, delete


_WORKER_STAGES = [
    ("LaneProgress.flush", "progress write (DynamoDB UpdateItem)"),
    ("OriginClient.fetch_range", "origin ranged GET"),
    ("ObjectStore.upload_part", "S3 UploadPart"),
    ("record_part", "record part (DynamoDB TransactWriteItems)"),
    ("Lanes.claim", "claim lane step (DynamoDB UpdateItem)"),
    ("has_part", "has_part (DynamoDB GetItem)"),
    ("SettingsStore.get", "settings read (DynamoDB GetItem)"),
    ("WorkQueue.send", "pass the lane on (SQS SendMessage)"),
    ("Outcomes.finalize", "finalize (complete + verify)"),
    ("Planner.start", "probe + plan"),
    ("Transfer.", "other engine work"),
    ("Lanes.", "other engine work"),
    ("Streams.", "other engine work"),
]


def worker_stage(stack: str, receive: set[int], delete: set[int]) -> str | None:
    if "SqsPoller._loop" not in stack or "Heartbeat" in stack:
        return None
    for marker, name in _WORKER_STAGES:
        if marker in stack:
            return name
    m = re.search(r"SqsPoller\.poll_once \([^:]+:(\d+)\)", stack)
    line = int(m.group(1)) if m else -1
    if line in receive:
        return "waiting for a message (SQS ReceiveMessage)"
    if line in delete:
        return "delete the message (SQS DeleteMessageBatch)"
    return "poller / handler plumbing"


def summarise(runtime_file: Path, worker_files: list[Path]) -> dict[str, dict[str, float]]:
    """Shares (percent) by category: runtime GIL time, and worker poller-thread wall time."""
    runtime: Counter[str] = Counter()
    for stack, count in _stacks(runtime_file):
        runtime[runtime_category(stack)] += count
    receive, delete = _poller_lines()
    workers: Counter[str] = Counter()
    for path in worker_files:
        for stack, count in _stacks(path):
            stage = worker_stage(stack, receive, delete)
            if stage:
                workers[stage] += count

    def shares(counter: Counter[str]) -> dict[str, float]:
        total = sum(counter.values()) or 1
        return {k: round(100.0 * v / total, 1) for k, v in counter.most_common()}

    busy = Counter({k: v for k, v in workers.items() if not k.startswith("waiting")})
    return {
        "runtime_gil": shares(runtime),
        "worker_threads_wall": shares(workers),
        "worker_threads_busy": shares(busy),
        "samples": {"runtime": float(sum(runtime.values())), "workers": float(sum(workers.values()))},
    }
