"""The local runtime (``python -m local_runtime``) as a subprocess on its own ports."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config as BotoConfig

from .procs import children, kill_pids, terminate

ROOT = Path(__file__).resolve().parent.parent
STAGE = "bench"
BUCKET = f"haul-{STAGE}-bucket"
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any AWS endpoint, profile or real credentials."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AWS_", "HAUL_")) and k not in {"BOTO_CONFIG"}
    }
    env.update(DUMMY_AWS)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Runtime:
    """``with Runtime(log_path, processes=2, threads=4) as rt: rt.api(...)``"""

    def __init__(
        self, log_path: Path, processes: int = 2, threads: int = 4, extra_env: dict[str, str] | None = None,
        ready_timeout: float = 120.0, in_memory: bool | None = None,
    ) -> None:
        self.aws_port = free_port()
        self.api_port = free_port()
        self.processes = processes
        self.threads = threads
        self.log_path = log_path
        self.ready_timeout = ready_timeout
        # A data directory of its own, as `make run` keeps one (the bench measures that), removed
        # at stop; BENCH_DATA_DIR=none (or ``in_memory``): the emulator keeps everything in memory.
        self.data_dir = tempfile.mkdtemp(prefix="haul-bench-data-", dir=log_path.parent)
        if in_memory is None:
            in_memory = os.environ.get("BENCH_DATA_DIR", "").lower() == "none"
        kept = "none" if in_memory else self.data_dir
        self.env = clean_env(
            HAUL_DATA_DIR=kept,
            HAUL_STAGE=STAGE,
            HAUL_AWS_PORT=str(self.aws_port),
            HAUL_API_PORT=str(self.api_port),
            HAUL_ALLOW_PRIVATE_NETWORKS="true",
            HAUL_WS_PORT=str(free_port()),
            # The bench polls the API; it measures transfers, not the per-user request limit.
            HAUL_RATE_LIMIT_PER_MINUTE="0",
            HAUL_ACCESS_TOKEN_SECONDS="7200",
            HAUL_WORKER_PROCESSES=str(processes),
            HAUL_WORKER_THREADS=str(threads),
            **(extra_env or {}),
        )
        self.progress_interval: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self._known_workers: set[int] = set()
        self._workers: list[int] = []
        self._workers_at = -1.0
        self._log: Any = None
        self.http = requests.Session()
        self.s3: Any = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.aws_port}"

    @property
    def s3_endpoint(self) -> str:
        """Where the bucket is: the embedded emulator, or a second backend (--sink localstack)."""
        return self.env.get("AWS_ENDPOINT_URL_S3") or self.endpoint

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    # -- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Runtime:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local_runtime"], cwd=ROOT, env=self.env,
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the runtime exited with {self.proc.returncode}; see {self.log_path}")
            try:
                if self.http.get(f"{self.base}/health", timeout=2).status_code == 200 and \
                        len(self.worker_pids()) >= self.processes:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the runtime was not healthy after {self.ready_timeout:.0f} s; see {self.log_path}")
            time.sleep(0.1)
        self.login()
        self.s3 = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client(
            "s3", endpoint_url=self.s3_endpoint,
            config=BotoConfig(s3={"addressing_style": "path"}, read_timeout=300, retries={"max_attempts": 3}),
        )

    def login(self) -> None:
        """Create the first admin of this fresh stage and use its access token (when the API has accounts)."""
        status = self.http.get(f"{self.base}/auth/status", timeout=30)
        if status.status_code == 404:
            return  # an API without accounts
        status.raise_for_status()
        if not status.json().get("setup_required"):
            raise RuntimeError("the bench stage already has an admin; it expects a fresh emulator")
        grant = self.http.post(
            f"{self.base}/auth/setup", json={"username": "bench", "password": secrets.token_urlsafe(18)}, timeout=60,
        )
        if grant.status_code != 201:
            raise RuntimeError(f"POST /auth/setup answered {grant.status_code}: {grant.text[:300]}")
        self.http.headers["Authorization"] = f"Bearer {grant.json()['access_token']}"

    def worker_pids(self) -> list[int]:
        """The worker processes: children of the runtime running ``local_runtime.worker``
        (looked up at most every 0.5 s: the samplers call this often)."""
        if self.proc is None:
            return []
        now = time.monotonic()
        if now - self._workers_at > 0.5:
            self._workers = [pid for pid in children(self.proc.pid) if "local_runtime.worker" in _cmdline(pid)]
            self._workers_at = now
            self._known_workers.update(self._workers)
        return list(self._workers)

    def stop(self) -> None:
        if self.proc is not None:
            self._workers_at = -1.0
            self.worker_pids()
            terminate([self.proc], grace=25.0)
            # Workers run in their own sessions; the runtime stops them, but never leave one.
            leftovers = [pid for pid in self._known_workers if "local_runtime.worker" in _cmdline(pid)]
            kill_pids(leftovers)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self.http.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- the REST API ---------------------------------------------------------------------
    def settings(self, **changes: int) -> dict[str, Any]:
        resp = self.http.patch(f"{self.base}/settings", json=changes, timeout=30)
        resp.raise_for_status()
        return dict(resp.json())

    def add(self, url: str) -> str:
        resp = self.http.post(f"{self.base}/downloads", json={"url": url}, timeout=30)
        if resp.status_code != 201:
            raise RuntimeError(f"POST /downloads answered {resp.status_code}: {resp.text[:500]}")
        return str(resp.json()["id"])

    def get(self, task_id: str) -> dict[str, Any]:
        resp = self.http.get(f"{self.base}/downloads/{task_id}", timeout=30)
        resp.raise_for_status()
        return dict(resp.json())

    def wait_done(
        self, task_id: str, timeout: float, timeline: list[tuple[float, str, int, int]] | None = None,
        stall: float = 90.0,
    ) -> dict[str, Any]:
        """Poll until the task ends: slowly while parts move (the API shares the emulator's process
        and its CPU), faster once the last parts are in, so the end is timed within ~0.1 s.

        ``timeline`` collects (monotonic time, phase or state, parts_done, downloaded_bytes).
        Raises TimeoutError after ``timeout`` s, or when nothing moved for ``stall`` s.
        """
        deadline = time.monotonic() + timeout
        last: tuple[str, int, int] | None = None
        moved_at = time.monotonic()
        while True:
            task = self.get(task_id)
            now = time.monotonic()
            phase = str(task.get("phase") or task.get("state"))
            state = (phase, int(task.get("parts_done") or 0), int(task.get("downloaded_bytes") or 0))
            if timeline is not None:
                timeline.append((now, *state))
            if task.get("state") in {"completed", "failed", "cancelled"}:
                return task
            if state != last:
                last, moved_at = state, now
            if now > deadline:
                raise TimeoutError(f"download {task_id} not done after {timeout:.0f} s (phase {phase}, "
                                   f"{state[1]}/{task.get('parts_total')} parts)")
            if now - moved_at > stall:
                raise TimeoutError(f"download {task_id} made no progress for {stall:.0f} s (phase {phase}, "
                                   f"{state[1]}/{task.get('parts_total')} parts); see {self.log_path}")
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"the runtime died; see {self.log_path}")
            total = int(task.get("parts_total") or 0)
            ending = phase == "finalizing" or (total and state[1] >= total - 1)
            time.sleep(0.1 if ending else 0.5)

    # -- the bucket -----------------------------------------------------------------------
    def object_size(self, key: str) -> int | None:
        try:
            return int(self.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"])
        except Exception:  # noqa: BLE001 - any failure means "not there" for a size check
            return None

    def object_sha256(self, key: str) -> str:
        import hashlib

        digest = hashlib.sha256()
        body = self.s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        try:
            for chunk in iter(lambda: body.read(8 * 1024 * 1024), b""):
                digest.update(chunk)
        finally:
            body.close()
        return digest.hexdigest()

    def delete_object(self, key: str) -> None:
        try:
            self.s3.delete_object(Bucket=BUCKET, Key=key)
        except Exception:  # noqa: BLE001 - freeing emulator memory is best effort
            pass
