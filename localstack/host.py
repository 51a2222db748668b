"""LocalStack's S3 and SQS on this machine, without Docker, as the second backend of the tests.

    python localstack/host.py [pytest arguments]     (make test-localstack)

Starts LocalStack (localstack-core, from the .venv-localstack venv) on a free loopback port
with only S3 and SQS, waits until both are available, then runs pytest with
AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL_SQS pointing at it: every S3 and SQS client of the
tests, of the runtimes they start and of their worker processes talks to LocalStack, while
DynamoDB (LocalStack's needs Java) stays on the embedded moto server (AWS_ENDPOINT_URL). The
tests are the same as `make test` runs, unchanged; LocalStack is stopped afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv-localstack" / "bin" / "python"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ready(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/_localstack/health", timeout=2) as answer:
            services = json.load(answer).get("services", {})
    except (OSError, ValueError):
        return False
    return all(services.get(s) in {"available", "running"} for s in ("s3", "sqs"))


def start(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON"))}
    env.update(
        SERVICES="s3,sqs",
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        # Nothing beyond loopback: no DNS server of its own, no certificate download, no analytics.
        DNS_ADDRESS="0", SKIP_SSL_CERT_DOWNLOAD="1", DISABLE_EVENTS="1",
        LOCALSTACK_VOLUME_DIR=str(workdir / "volume"), FILESYSTEM_ROOT=str(workdir / "fs"),
        TMPDIR=str(workdir),
    )
    log = (workdir / "localstack.log").open("wb")
    # Its working directory is not the project's: the project's localstack/ folder would shadow
    # the package of the same name.
    return subprocess.Popen(
        [str(VENV_PYTHON), "-m", "localstack.runtime.main"], cwd=workdir, env=env,
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def main() -> int:
    if not VENV_PYTHON.exists():
        print("LocalStack's venv is missing: run `make test-localstack` (it creates .venv-localstack)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="haul-localstack-"))
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    proc = start(workdir, port)
    started = time.monotonic()
    try:
        while not _ready(endpoint):
            if proc.poll() is not None or time.monotonic() - started > 120:
                print((workdir / "localstack.log").read_text(errors="replace")[-4000:], file=sys.stderr)
                print("LocalStack did not start (its log is above)", file=sys.stderr)
                return 2
            time.sleep(0.5)
        print(f"LocalStack {endpoint} (S3, SQS) ready in {time.monotonic() - started:.1f} s; DynamoDB stays on moto",
              flush=True)
        env = dict(os.environ, AWS_ENDPOINT_URL_S3=endpoint, AWS_ENDPOINT_URL_SQS=endpoint, HAUL_TEST_LOCALSTACK="1")
        args = sys.argv[1:] or ["tests/functional", "tests/e2e", "-q"]
        return subprocess.call([sys.executable, "-m", "pytest", *args], cwd=ROOT, env=env)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
