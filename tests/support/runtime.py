"""The local runtime as a user runs it: `python -m local_runtime` in its own process."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import requests

from .auth import login
from .backend import endpoint_variable_kept
from .ports import free_port
from .wait import wait_for

ROOT = Path(__file__).resolve().parents[2]
# The admin every runtime a test starts creates at start (HAUL_ADMIN_USER / _PASSWORD).
ADMIN_USER = "admin"
ADMIN_PASSWORD = "e2e admin password"


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid``, read from /proc."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command may contain spaces and parentheses: the ppid follows the last ')'.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry.name))
    return out


class RuntimeProcess:
    def __init__(self, stage: str, env: dict[str, str] | None = None, aws_endpoint: str | None = None) -> None:
        self.stage = stage
        self.api_port = free_port()
        self.aws_port = free_port()
        self.aws_endpoint = aws_endpoint or f"http://127.0.0.1:{self.aws_port}"
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("AWS_ENDPOINT_URL") or endpoint_variable_kept(k)}
        base.update(
            HAUL_STAGE=stage,
            HAUL_API_PORT=str(self.api_port),
            HAUL_AWS_PORT=str(self.aws_port),
            HAUL_WS_PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
            HAUL_ADMIN_USER=ADMIN_USER,
            HAUL_ADMIN_PASSWORD=ADMIN_PASSWORD,
            # Tests poll; the per-user limit is tested on its own (tests/functional/test_auth.py).
            HAUL_RATE_LIMIT_PER_MINUTE="100000",
        )
        if aws_endpoint:
            base["AWS_ENDPOINT_URL"] = aws_endpoint
        base.update(env or {})
        # Each runtime keeps its state in a data directory of its own, as `make run` does
        # (removed at its stop), unless the test names one (to start another runtime on it).
        self._own_data: str | None = None
        if "HAUL_DATA_DIR" not in (env or {}):
            self._own_data = base["HAUL_DATA_DIR"] = tempfile.mkdtemp(prefix=f"haul-{stage}-data-")
        self.env = base
        self.proc: subprocess.Popen[str] | None = None
        self._headers: dict[str, str] | None = None
        self.log_path = ROOT / ".haul" / f"runtime-{stage}-{self.api_port}.log"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.api_port}/api/v1"

    @property
    def headers(self) -> dict[str, str]:
        """The admin's Authorization header (logged in once per runtime)."""
        if self._headers is None:
            self._headers = login(self.api, ADMIN_USER, ADMIN_PASSWORD)
        return dict(self._headers)

    @property
    def http(self) -> requests.Session:
        """A requests session acting as the admin."""
        s = requests.Session()
        s.headers.update(self.headers)
        return s

    def start(self, timeout: float = 60.0) -> RuntimeProcess:
        self.log_path.parent.mkdir(exist_ok=True)
        # A restart (tests that stop and start the runtime) appends: what came before is kept.
        self.starts = getattr(self, "starts", 0) + 1
        log = self.log_path.open("a" if self.starts > 1 else "w")
        log.write(f"--- start {self.starts} at {time.strftime('%H:%M:%S')} ---\n")
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "local_runtime"], cwd=ROOT, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )

        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the runtime exited early:\n{self.output()}")
            try:
                return requests.get(f"{self.api}/health", timeout=1).status_code == 200
            except requests.RequestException:
                return False

        wait_for(ready, timeout, 0.2, "the runtime to answer /health")
        return self

    def output(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return children_of(self.proc.pid)

    def stop(self, timeout: float = 20.0) -> int:
        """Ctrl-C, as a user would; the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._own_data:
            shutil.rmtree(self._own_data, ignore_errors=True)
        return int(self.proc.returncode)

    def kill(self) -> None:
        """SIGKILL the runtime and its workers: a crash, not a shutdown."""
        assert self.proc is not None
        for pid in [*self.worker_pids(), self.proc.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(10)

    # -- looking inside, as an operator with AWS credentials could ------------------------
    def client(self, service: str) -> Any:
        variable = f"AWS_ENDPOINT_URL_{service.upper()}"
        endpoint = self.env[variable] if endpoint_variable_kept(variable) else self.aws_endpoint
        return boto3.client(
            service, endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def recorded_parts(self, task_id: str) -> set[int]:
        items = self.client("dynamodb").query(
            TableName=f"haul-{self.stage}-parts",
            KeyConditionExpression="task_id = :t",
            ExpressionAttributeValues={":t": {"S": task_id}},
            ConsistentRead=True,
        )["Items"]
        return {int(i["number"]["N"]) for i in items}

    def object_bytes(self, key: str) -> bytes:
        body = self.client("s3").get_object(Bucket=f"haul-{self.stage}-bucket", Key=key)["Body"]
        return bytes(body.read())


def wait_state(
    api: str, task_id: str, states: set[str], timeout: float = 60.0, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        body: dict[str, Any] = requests.get(f"{api}/downloads/{task_id}", headers=headers, timeout=5).json()
        return body if body.get("state") in states else None

    return wait_for(probe, timeout, 0.2, f"task {task_id} to reach {states}")
