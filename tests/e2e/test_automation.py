"""Jobs, notifications and the detailed health report through a real local runtime: the worker
processes poll the jobs and notify queues and the tasks stream, as Lambda's event sources would
(one download's completion reaches a signed webhook on loopback; a job run now is run by a
worker); the health report includes the embedded install's data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.origin import Origin, Resource
from tests.support.receiver import Receiver
from tests.support.runtime import RuntimeProcess, wait_state
from tests.support.wait import wait_for

SECRET = "an end-to-end webhook secret"


@pytest.fixture(scope="module")
def rt() -> Iterator[RuntimeProcess]:
    runtime = RuntimeProcess("e2eauto", {"HAUL_WORKER_PROCESSES": "1", "HAUL_WORKER_THREADS": "2"}).start()
    yield runtime
    runtime.stop()


def test_a_completion_reaches_a_webhook_and_a_job_runs_in_a_worker(rt: RuntimeProcess) -> None:
    http = rt.http
    with Origin() as origin, Receiver(secret=SECRET) as hook:
        origin.add("/done.bin", Resource(data=os.urandom(200_000)))
        made = http.post(f"{rt.api}/notifications/targets", json={
            "name": "e2e", "kind": "webhook", "url": hook.url(), "secret": SECRET,
            "events": ["download.completed", "job.failed"]}, timeout=10)
        assert made.status_code == 201, made.text
        task = http.post(f"{rt.api}/downloads", json={"url": origin.url("/done.bin")}, timeout=10).json()
        assert wait_state(rt.api, task["id"], {"completed"}, headers=rt.headers)["state"] == "completed"
        event = wait_for(lambda: next((r for r in hook.received if r.json()["event"] == "download.completed"), None),
                         timeout=60, what="the completion webhook")
        assert event.signed and event.json()["data"]["task_id"] == task["id"]

        job = http.post(f"{rt.api}/jobs", json={"name": "fetch", "cron": "0 0 1 1 *", "action": "add_urls",
                                                "params": {"urls": [origin.url("/missing.csv")]}}, timeout=10).json()
        assert http.post(f"{rt.api}/jobs/{job['id']}/run", timeout=10).status_code == 202
        runs = wait_for(lambda: [r for r in http.get(f"{rt.api}/jobs/{job['id']}/history", timeout=10).json()["runs"]
                                 if r["status"] not in ("queued", "running")], timeout=60, what="the run")
        assert runs[0]["status"] == "failure" and "404" in runs[0]["error"]
        wait_for(lambda: any(r.json()["event"] == "job.failed" for r in hook.received), timeout=60,
                 what="the job.failed webhook")
    deliveries = http.get(f"{rt.api}/notifications/deliveries", timeout=10).json()["deliveries"]
    assert {d["event"] for d in deliveries} == {"download.completed", "job.failed"}
    assert all(d["status"] == "delivered" for d in deliveries)


def test_detailed_health_with_the_data_directory(rt: RuntimeProcess) -> None:
    report = rt.http.get(f"{rt.api}/health/detailed", timeout=30).json()
    checks = report["checks"]
    assert report["status"] == "ok", checks
    assert checks["data_dir"]["bytes"] > 0 and checks["data_dir"]["path"].startswith("/")
    assert checks["workers"]["heartbeat_age_s"] is not None
    assert checks["stream"]["lag_ms"] is not None and checks["stream"]["lag_ms"] < 60_000
