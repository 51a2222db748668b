"""The embedded install keeps its data (HAUL_DATA_DIR): a runtime killed with its workers
(kill -9 of the whole tree) mid-download, then started again on the same directory, has every
acknowledged write and resumes the download fetching only its missing parts; a clean stop
keeps everything; a damaged state file is recovered from the last good state."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import requests

from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess, wait_state
from tests.support.wait import wait_for

MiB = 1024 * 1024
PART = 5 * MiB


def _part_fetch(request: dict[str, object]) -> bool:
    return bool(request.get("range")) and request["range"] != (0, 0)


def _part_of(offset: int) -> int:
    return offset // PART + 1


def test_state_survives_kill_minus_9_a_clean_stop_and_damage(tmp_path: Path, origin: Origin) -> None:
    data_dir = tmp_path / "haul-data"
    env = {"HAUL_DATA_DIR": str(data_dir)}
    data = os.urandom(6 * PART)
    # Parts 3-6 are held after their first block until the crash: exactly parts 1 and 2 can be
    # recorded before it, however fast or loaded the machine (a throttle alone let all six finish
    # in the moments between "two recorded" and the kill on a loaded run).
    hold = threading.Event()
    origin.add("/slow.bin", Resource(data=data, throttle_bps=3 * MiB, hold=hold, hold_from=2 * PART))
    origin.add("/small.bin", Resource(data=b"x" * 1000))

    first = RuntimeProcess("persist", env).start()
    assert f"data       {data_dir}" in first.output()
    settings = first.http.patch(f"{first.api}/settings", json={"part_size": PART, "parallel_parts": 2}, timeout=5)
    assert settings.status_code == 200, settings.text
    user = first.http.post(f"{first.api}/users", json={"username": "kept", "password": "a kept password 1"}, timeout=10)
    assert user.status_code == 201, user.text
    running = first.http.post(f"{first.api}/downloads", json={"url": origin.url("/slow.bin")}, timeout=5)
    assert running.status_code == 201, running.text
    running_id = running.json()["id"]
    wait_for(lambda: len(first.recorded_parts(running_id)) >= 2, 60, 0.1, "two recorded parts")
    # Acknowledged, then the crash at once: the 201 must mean the task survives.
    created = first.http.post(f"{first.api}/downloads", json={"url": origin.url("/small.bin")}, timeout=5)
    assert created.status_code == 201, created.text
    first.kill()
    killed_at = time.time()
    hold.set()
    old_headers = first.headers

    second = RuntimeProcess("persist", env).start()
    try:
        out = second.output()
        assert "journalled write(s)" in out, out
        # The session of before the crash is still valid: users, sessions and keys were kept.
        me = requests.get(f"{second.api}/auth/me", headers=old_headers, timeout=5)
        assert me.status_code == 200, me.text
        kept = requests.get(f"{second.api}/downloads/{created.json()['id']}", headers=second.headers, timeout=5)
        assert kept.status_code == 200, kept.text
        recorded = second.recorded_parts(running_id)
        assert recorded == {1, 2}, recorded
        # (The small download may have been running too.)
        wait_for(lambda: "download(s) that were running" in second.output(), 30, 0.2, "the resume line")
        done = wait_state(second.api, running_id, {"completed", "failed"}, timeout=120, headers=second.headers)
        assert done["state"] == "completed", done["error"]
        assert second.object_bytes(done["key"]) == data
        res = origin._server.resources["/slow.bin"]
        refetched = {_part_of(r["range"][0]) for r in res.requests if _part_fetch(r) and r["time"] > killed_at}
        assert refetched == set(range(1, 7)) - recorded, (refetched, recorded)
    finally:
        assert second.stop() == 0

    # A clean stop wrote a snapshot. Damage it and tear the journal's tail, as a crash during a
    # write would: the next start uses the state before, says so, and loses nothing acknowledged.
    snapshots = sorted((data_dir / "dynamodb").glob("snapshot-*.bin"))
    assert snapshots, list((data_dir / "dynamodb").iterdir())
    latest = snapshots[-1]
    raw = bytearray(latest.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    latest.write_bytes(bytes(raw))
    journals = sorted((data_dir / "dynamodb").glob("journal-*.bin"))
    with journals[-1].open("ab") as journal:
        journal.write(b"\x40\x00\x00\x00\x01\x02")  # half a frame
    (data_dir / "sqs" / "snapshot.bin").write_bytes(b"HAULSTATE1\n" + b"\x00" * 10)

    third = RuntimeProcess("persist", env).start()
    try:
        out = third.output()
        assert f"{latest.name}: unreadable" in out and "cut off" in out and "snapshot.bin: unreadable" in out, out
        answer = third.http.get(f"{third.api}/downloads/{running_id}", timeout=5)
        assert answer.status_code == 200 and answer.json()["state"] == "completed", answer.text
        assert third.object_bytes(answer.json()["key"]) == data
        login = requests.post(f"{third.api}/auth/login", json={"username": "kept", "password": "a kept password 1"},
                              timeout=10)
        assert login.status_code == 200, login.text
    finally:
        third.stop()
