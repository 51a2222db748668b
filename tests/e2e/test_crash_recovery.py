"""Crashes, for real: a worker process killed mid-part, the whole runtime killed and restarted."""

from __future__ import annotations

import os
import time

from local_runtime.emulator.server import start_emulator
from tests.support.origin import Origin, Resource
from tests.support.ports import free_port
from tests.support.runtime import RuntimeProcess, wait_state
from tests.support.wait import wait_for

MiB = 1024 * 1024
PART = 5 * MiB


def _start_download(rt: RuntimeProcess, origin: Origin, data: bytes) -> str:
    origin.add("/slow.bin", Resource(data=data, throttle_bps=3 * MiB))
    settings = rt.http.patch(f"{rt.api}/settings", json={"part_size": PART, "parallel_parts": 2}, timeout=5)
    assert settings.status_code == 200, settings.text
    created = rt.http.post(f"{rt.api}/downloads", json={"url": origin.url("/slow.bin")}, timeout=5)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _part_fetch(request: dict[str, object]) -> bool:
    """A ranged GET for part data, not a probe's one-byte ``bytes=0-0``."""
    return bool(request.get("range")) and request["range"] != (0, 0)


def _part_of(offset: int) -> int:
    return offset // PART + 1


def test_worker_killed_mid_part_loses_only_that_part(origin: Origin) -> None:
    rt = RuntimeProcess("e2ekill", {"HAUL_VISIBILITY_TIMEOUT": "6"}).start()
    try:
        data = os.urandom(6 * PART)
        task_id = _start_download(rt, origin, data)
        # Wait until a part is recorded and another one is half-way through its transfer.
        wait_for(lambda: len(rt.recorded_parts(task_id)) >= 1, 60, 0.1, "a first recorded part")
        res = origin._server.resources["/slow.bin"]
        in_flight = wait_for(
            lambda: {_part_of(r["range"][0]) for r in res.requests if _part_fetch(r)} - rt.recorded_parts(task_id),
            30, 0.05, "a part in flight",
        )
        for pid in rt.worker_pids():
            os.kill(pid, 9)
        killed_at = time.time()
        recorded_at_kill = rt.recorded_parts(task_id)

        done = wait_state(rt.api, task_id, {"completed", "failed"}, timeout=120, headers=rt.headers)
        assert done["state"] == "completed", done["error"]
        assert rt.object_bytes(done["key"]) == data

        after = {_part_of(r["range"][0]) for r in res.requests if _part_fetch(r) and r["time"] > killed_at}
        assert not after & recorded_at_kill, "a part recorded before the kill was fetched again"
        # What was in flight when the workers died: asked for before the kill, not recorded by
        # then (the part sampled above may have landed in the moment before the kill).
        asked = {_part_of(r["range"][0]) for r in res.requests if _part_fetch(r) and r["time"] <= killed_at}
        in_flight_at_kill = asked - recorded_at_kill
        assert in_flight <= asked and in_flight_at_kill, "no part was in flight when the workers were killed"
        assert in_flight_at_kill <= after, "a part that was in flight was not fetched again"
        assert "restarted" in rt.output()
    finally:
        rt.stop()


def test_restarted_runtime_resumes_running_downloads(origin: Origin) -> None:
    port = free_port()
    backend = start_emulator("127.0.0.1", port)  # plays LocalStack: a backend that outlives the runtime
    endpoint = f"http://127.0.0.1:{port}"
    try:
        first = RuntimeProcess("e2erestart", aws_endpoint=endpoint).start()
        data = os.urandom(6 * PART)
        task_id = _start_download(first, origin, data)
        wait_for(lambda: len(first.recorded_parts(task_id)) >= 2, 60, 0.1, "two recorded parts")
        first.kill()
        killed_at = time.time()
        recorded = first.recorded_parts(task_id)
        assert 2 <= len(recorded) < 6

        second = RuntimeProcess("e2erestart", aws_endpoint=endpoint).start()
        try:
            wait_for(lambda: "resumed 1 download(s) that were running" in second.output(), 30, 0.2, "the resume line")
            done = wait_state(second.api, task_id, {"completed", "failed"}, timeout=120, headers=second.headers)
            assert done["state"] == "completed", done["error"]
            assert second.object_bytes(done["key"]) == data
            res = origin._server.resources["/slow.bin"]
            refetched = {_part_of(r["range"][0]) for r in res.requests if _part_fetch(r) and r["time"] > killed_at}
            assert not refetched & recorded, "parts stored before the restart were fetched again"
            assert refetched == set(range(1, 7)) - recorded
        finally:
            second.stop()
    finally:
        backend.stop()
