"""chalicelib/observability/tracing.py: off (and import-free) outside Lambda; in Lambda, X-Ray subsegments
for S3, SQS, DynamoDB, origin calls and explicit spans."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from chalicelib.observability import tracing

ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_off_outside_lambda(monkeypatch) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    tracing._reset_for_tests()
    assert tracing.install() is False
    assert not tracing.enabled()
    with tracing.span("anything", task_id="t"):
        tracing.annotate(part=1)

    @tracing.traced()
    def work(x: int) -> int:
        return x + 1

    assert work(1) == 2
    tracing._reset_for_tests()


def test_off_when_disabled_even_in_lambda(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "haul-dev-Work")
    monkeypatch.setenv("LAMBDA_TASK_ROOT", str(tmp_path))
    monkeypatch.setenv("HAUL_TRACING", "off")
    tracing._reset_for_tests()
    try:
        assert tracing.install() is False
    finally:
        tracing._reset_for_tests()


def test_outside_lambda_the_sdk_is_not_even_imported() -> None:
    code = (
        "import sys; from chalicelib.observability import tracing; tracing.install(); "
        "print('aws_xray_sdk' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "AWS_LAMBDA_FUNCTION_NAME"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


PROBE = textwrap.dedent(
    """
    import http.server, threading
    import boto3, requests
    from moto import mock_aws
    from chalicelib.observability import tracing

    assert tracing.install() and tracing.enabled()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").list_buckets()
        boto3.client("sqs", region_name="us-east-1").list_queues()
        boto3.client("dynamodb", region_name="us-east-1").list_tables()
    requests.get(f"http://127.0.0.1:{server.server_address[1]}/file.bin?token=secret")
    with tracing.span("origin.read_part", task_id="t1"):
        tracing.annotate(part=3)
    """
)


def test_in_lambda_each_call_becomes_a_subsegment(tmp_path) -> None:
    """Run in a child process: patching botocore and requests is process-wide."""
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(3)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "HAUL_TRACING"))},
        "AWS_LAMBDA_FUNCTION_NAME": "haul-dev-Work",
        "LAMBDA_TASK_ROOT": str(tmp_path),
        "_X_AMZN_TRACE_ID": TRACE_ID,
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
        "NO_PROXY": "*",
    }
    subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=60
    )
    docs = []
    try:
        while True:
            _, _, body = daemon.recv(65536).decode().partition("\n")
            docs.append(json.loads(body))
    except TimeoutError:
        pass
    finally:
        daemon.close()
    by_name = {d["name"]: d for d in docs}
    assert {"s3", "sqs", "dynamodb"} <= set(by_name), sorted(by_name)
    assert all(by_name[n]["namespace"] == "aws" for n in ("s3", "sqs", "dynamodb"))
    origin = by_name["127.0.0.1"]
    assert origin["namespace"] == "remote"
    assert "token" not in origin["http"]["request"]["url"]  # query strings never reach X-Ray
    assert by_name["origin.read_part"]["annotations"] == {"task_id": "t1", "part": 3}
    assert {d["trace_id"] for d in docs} == {"1-5759e988-bd862e3fe1be46a994272793"}
