"""A user's first session: start Haul, add a download over HTTP, fetch the file back."""

from __future__ import annotations

import hashlib
import os

import requests

from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess, wait_state

MiB = 1024 * 1024


def test_download_lands_and_can_be_fetched_back(runtime: RuntimeProcess, origin: Origin) -> None:
    data = os.urandom(12 * MiB + 5)
    origin.add("/movie.mkv", Resource(data=data, content_disposition='attachment; filename="Movie (2024).mkv"'))
    api, http = runtime.api, runtime.http
    assert http.patch(f"{api}/settings", json={"part_size": 5 * MiB}, timeout=5).status_code == 200

    created = http.post(
        f"{api}/downloads",
        json={"url": origin.url("/movie.mkv"), "checksum": "sha256:" + hashlib.sha256(data).hexdigest()},
        timeout=5,
    )
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["state"] in {"queued", "downloading"}
    assert created.headers["Location"].endswith(task["id"])

    done = wait_state(api, task["id"], {"completed", "failed"}, headers=runtime.headers)
    assert done["state"] == "completed", done["error"]
    assert done["filename"] == "Movie (2024).mkv"
    assert done["progress"] == 100.0 and done["downloaded_bytes"] == len(data) == done["total_bytes"]
    assert done["parts_total"] == 3 and done["finished_at"]

    listed = http.get(f"{api}/downloads", params={"status": "completed"}, timeout=5)
    assert task["id"] in {t["id"] for t in listed.json()["tasks"]}
    assert int(listed.headers["X-Total-Count"]) >= 1

    redirect = http.get(f"{api}/downloads/{task['id']}/file", allow_redirects=False, timeout=5)
    assert redirect.status_code == 302
    fetched = requests.get(redirect.headers["Location"], timeout=30)
    assert fetched.status_code == 200 and fetched.content == data


def test_bad_input_gets_a_clear_error_and_no_5xx(runtime: RuntimeProcess) -> None:
    api, http = runtime.api, runtime.http
    cases = [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://127.0.0.1/x", "colour": "red"}, "colour"),
        ({"url": "http://127.0.0.1/x", "priority": "URGENT"}, "priority"),
    ]
    for body, field in cases:
        answer = http.post(f"{api}/downloads", json=body, timeout=5)
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert error["code"] == "VALIDATION_ERROR" and error["request_id"]
        assert field in {d["field"] for d in error["details"]}
    broken = http.post(f"{api}/downloads", data=b"{not json", headers={"Content-Type": "application/json"}, timeout=5)
    assert broken.status_code == 400 and "Traceback" not in broken.text
    missing = http.get(f"{api}/downloads/does-not-exist", timeout=5)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"


def test_ctrl_c_stops_everything_cleanly(origin: Origin) -> None:
    rt = RuntimeProcess("e2estop").start()
    workers = rt.worker_pids()
    assert len(workers) == 2
    assert "Ready. Ctrl-C stops." in rt.output()
    assert rt.stop() == 0
    assert "Haul stopped." in rt.output()
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def test_a_busy_port_is_reported_plainly(runtime: RuntimeProcess) -> None:
    clash = RuntimeProcess("e2eclash", {"HAUL_API_PORT": str(runtime.api_port)})
    clash.api_port = runtime.api_port
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "local_runtime"], cwd=str(clash.log_path.parents[1]), env=clash.env,
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert f"port {runtime.api_port}" in done.stderr and "HAUL_API_PORT" in done.stderr
    assert "Traceback" not in done.stderr
