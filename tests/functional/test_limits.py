"""The engine enforces the control surface's limits: connections per origin host, speed per
download (changeable while it runs), and every setting on the next dispatch."""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload, PatchDownload
from chalicelib.persistence.hostslots import DynamoHostSlots
from chalicelib.persistence.models import TaskModel
from chalicelib.transfer import Delivery
from tests.support.engine import OWNER, MiB, queue_counts, receive, stored_sha256, wait_finished, wait_until
from tests.support.origin import Resource
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("settled")
HOST = "127.0.0.1"


def add(svc: Any, url: str, **options: Any) -> Any:
    return svc.downloads.add(OWNER, AddDownload(url=url, allow_duplicate=True, **options))


def peak_connections(*resources: Resource) -> int:
    """The most body-serving requests the origin had open at once (probes left out)."""
    events: list[tuple[float, int]] = []
    for res in resources:
        for r in res.requests:
            if r.get("range") == (0, 0) or "end" not in r:
                continue
            events += [(r["time"], 1), (r["end"], -1)]
    events.sort(key=lambda e: (e[0], e[1]))  # an end before a start at the same instant
    peak = now = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def lifetime(url: str) -> float:
    """Seconds a presigned URL is valid: X-Amz-Expires (SigV4), or Expires (an epoch, SigV2)."""
    params = parse_qs(urlsplit(url).query)
    if "X-Amz-Expires" in params:
        return float(params["X-Amz-Expires"][0])
    return float(params["Expires"][0]) - time.time()


# -- connections per host ------------------------------------------------------------------


def test_no_host_limit_makes_no_request(svc, workers, origin, monkeypatch) -> None:
    calls: list[Any] = []

    def acquire(self: DynamoHostSlots, *args: Any) -> bool:
        calls.append(args)
        return True

    monkeypatch.setattr(DynamoHostSlots, "acquire", acquire)
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    res = origin.add("/free.bin", Resource(data=os.urandom(11 * MiB)))
    done = wait_finished(svc, add(svc, origin.url("/free.bin")).id)
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert calls == []


def test_per_host_limit_holds_over_every_download(svc, workers, origin) -> None:
    svc.settings.update({"queue": {"per_host_connections": 2, "max_concurrent_downloads": 3},
                         "transfer": {"part_size": 5 * MiB, "parallel_parts": 4}})
    files = [origin.add(f"/h{i}.bin", Resource(data=os.urandom(4 * 5 * MiB), throttle_bps=20 * MiB)) for i in range(2)]
    tasks = [add(svc, origin.url(f"/h{i}.bin")) for i in range(2)]
    done = [wait_finished(svc, t.id, timeout=120) for t in tasks]
    for task, res in zip(done, files, strict=True):
        assert task.state == TaskState.COMPLETED, task.error
        assert task.restarts == 0 and task.error is None
        assert stored_sha256(svc, task.key) == res.sha256()
    # Eight lanes wanted the host at once; the origin never saw more than two connections.
    assert 1 <= peak_connections(*files) <= 2
    assert svc.transfer.hosts.held(HOST) == {}  # every slot was let go


def test_a_lane_without_a_slot_waits_without_failing(svc, origin) -> None:
    svc.settings.update({"queue": {"per_host_connections": 1}, "transfer": {"part_size": 5 * MiB, "parallel_parts": 1},
                         "retry": {"max_attempts": 1}})
    # Two parts in one lane (a file of one part is fetched by its start message: see test_small_files).
    res = origin.add("/wait.bin", Resource(data=os.urandom(6 * MiB)))
    hosts = svc.transfer.hosts
    assert hosts.acquire(HOST, "someone-else#0", 1)  # the only slot is taken
    task = add(svc, origin.url("/wait.bin"))
    start = receive(svc)
    assert start["kind"] == "start"
    svc.transfer.handle(Delivery(start))
    lane = receive(svc)
    assert lane["kind"] == "lane"

    # No slot: the lane sends itself again, unchanged, a little later; nothing was fetched.
    svc.transfer.handle(Delivery(lane))
    assert queue_counts(svc)[2] == 1  # one delayed message
    again = receive(svc)
    assert again == lane  # the same body: same token, same attempt (waiting is no failure)
    waiting = svc.repo.get(task.id)
    assert waiting.state == TaskState.DOWNLOADING and waiting.error is None
    assert waiting.note and waiting.note.startswith("waiting for a free connection to 127.0.0.1")
    assert [r for r in res.requests if r.get("range") != (0, 0)] == []
    # It waits as long as the slot stays taken (even with max_attempts = 1)...
    svc.transfer.handle(Delivery(again))
    again = receive(svc)
    assert again == lane and svc.repo.get(task.id).state == TaskState.DOWNLOADING

    # ...and goes on once the slot is free.
    hosts.release(HOST, "someone-else#0")
    svc.transfer.handle(Delivery(again))
    svc.transfer.handle(Delivery(receive(svc)))  # the lane's second part
    done = svc.repo.get(task.id)
    assert done.state == TaskState.COMPLETED, done.error
    assert done.note is None
    assert stored_sha256(svc, done.key) == res.sha256()
    assert hosts.held(HOST) == {}


def test_a_waiting_lane_stops_when_the_download_is_paused(svc, origin) -> None:
    from chalicelib.domain.states import Action

    svc.settings.update({"queue": {"per_host_connections": 1}, "transfer": {"part_size": 5 * MiB, "parallel_parts": 1}})
    origin.add("/paused.bin", Resource(data=os.urandom(6 * MiB)))
    assert svc.transfer.hosts.acquire(HOST, "someone-else#0", 1)
    task = add(svc, origin.url("/paused.bin"))
    svc.transfer.handle(Delivery(receive(svc)))
    lane = receive(svc)
    svc.transfer.handle(Delivery(lane))
    again = receive(svc)
    svc.downloads.act(OWNER, task.id, Action.PAUSE)
    svc.transfer.handle(Delivery(again))
    assert queue_counts(svc) == (0, 0, 0)  # dropped, not sent again


# -- speed per download -----------------------------------------------------------------------


def test_the_default_speed_limit_paces_a_download(svc, workers, origin) -> None:
    svc.settings.update({"transfer": {"speed_limit": MiB, "part_size": 5 * MiB}})
    size = 4 * MiB
    res = origin.add("/paced.bin", Resource(data=os.urandom(size)))
    task = add(svc, origin.url("/paced.bin"))
    done = wait_finished(svc, task.id, timeout=60)
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert done.started_at is not None and done.finished_at is not None
    seconds = (done.finished_at - done.started_at) / 1000
    # 4 MiB at 1 MiB/s: about 4 s (the first read is free); unlimited it takes well under one.
    assert 3.0 <= seconds <= 30, seconds
    assert size / seconds <= 1.4 * MiB


def test_a_speed_limit_changes_while_the_download_runs(svc, workers, origin) -> None:
    svc.settings.update({"transfer": {"part_size": 5 * MiB, "parallel_parts": 1}})
    size = 6 * MiB
    res = origin.add("/slowed.bin", Resource(data=os.urandom(size)))
    task = add(svc, origin.url("/slowed.bin"), speed_limit=256 * 1024)
    first = wait_until(svc, task.id, lambda t: t.downloaded > 0, timeout=30, what="the first bytes")
    began, at = time.monotonic(), first.downloaded
    time.sleep(2.5)  # a measurement window, not a wait for an event
    during = svc.repo.get(task.id)
    rate = (during.downloaded - at) / (time.monotonic() - began)
    assert rate <= 512 * 1024, rate  # held near 256 KiB/s (progress is written once a second)
    assert during.state == TaskState.DOWNLOADING
    lifted = time.monotonic()
    svc.downloads.patch(OWNER, task.id, PatchDownload.model_validate({"speed_limit": 0}))
    done = wait_finished(svc, task.id, timeout=60)
    took = time.monotonic() - lifted
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    # The rest (over 5 MiB) would take 20 s more at 256 KiB/s; unlimited it takes a moment.
    assert took < 10, took


# -- every setting applies on the next dispatch ----------------------------------------------


def test_parallel_parts_applies_to_the_next_download(svc, workers, origin) -> None:
    svc.settings.update({"transfer": {"parallel_parts": 1, "part_size": 5 * MiB}})
    one = origin.add("/one.bin", Resource(data=os.urandom(3 * 5 * MiB), throttle_bps=30 * MiB))
    assert wait_finished(svc, add(svc, origin.url("/one.bin")).id).state == TaskState.COMPLETED
    assert peak_connections(one) == 1
    svc.settings.update({"transfer": {"parallel_parts": 3}})
    three = origin.add("/three.bin", Resource(data=os.urandom(3 * 5 * MiB), throttle_bps=30 * MiB))
    assert wait_finished(svc, add(svc, origin.url("/three.bin")).id).state == TaskState.COMPLETED
    assert peak_connections(three) >= 2


def test_part_size_and_presign_lifetime_apply_to_the_next_download(svc, workers, origin) -> None:
    size = 13 * MiB
    svc.settings.update({"transfer": {"part_size": 6 * MiB}, "files": {"presign_seconds": 120}})
    origin.add("/a.bin", Resource(data=os.urandom(size)))
    a = wait_finished(svc, add(svc, origin.url("/a.bin")).id)
    assert (a.state, a.part_size, a.part_count) == (TaskState.COMPLETED, 6 * MiB, 3)
    assert lifetime(svc.downloads.file_url(OWNER, a.id)) == pytest.approx(120, abs=3)
    svc.settings.update({"transfer": {"part_size": 5 * MiB}, "files": {"presign_seconds": 900}})
    origin.add("/b.bin", Resource(data=os.urandom(size)))
    b = wait_finished(svc, add(svc, origin.url("/b.bin")).id)
    assert (b.part_size, b.part_count) == (5 * MiB, 3)
    assert lifetime(svc.downloads.file_url(OWNER, b.id)) == pytest.approx(900, abs=3)


def test_retry_limit_and_backoff_apply_to_the_next_attempt(svc, workers, origin, monkeypatch) -> None:
    svc.settings.update({"retry": {"max_attempts": 1}})
    res = origin.add("/down.bin", Resource(data=b"x" * 1000, fail_status=503, failures=100))
    failed = wait_finished(svc, add(svc, origin.url("/down.bin")).id)
    assert failed.state == TaskState.FAILED and "after 1 attempts" in (failed.error or "")
    assert len(res.requests) == 1
    assert TaskModel.get(failed.id).actor == "engine"

    # Backoff: with full jitter pinned to its ceiling, the wait is the base delay.
    monkeypatch.setattr(svc.transfer, "rand", lambda: 1.0)
    svc.settings.update({"retry": {"max_attempts": 3, "base_seconds": 3, "cap_seconds": 3}})
    flaky = origin.add("/flaky.bin", Resource(data=b"y" * 1000, fail_status=503, failures=1))
    done = wait_finished(svc, add(svc, origin.url("/flaky.bin")).id)
    assert done.state == TaskState.COMPLETED, done.error
    gap = flaky.requests[1]["time"] - flaky.requests[0]["time"]
    assert gap >= 2.8, gap


def test_max_concurrent_downloads_applies_to_the_next_dispatch(svc, workers, origin) -> None:
    svc.settings.update({"queue": {"max_concurrent_downloads": 1}, "transfer": {"part_size": 5 * MiB}})
    for i in range(3):
        origin.add(f"/q{i}.bin", Resource(data=os.urandom(2 * MiB), throttle_bps=8 * MiB))
    most = [0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            most[0] = max(most[0], svc.repo.count_in_state(TaskState.DOWNLOADING))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        tasks = [add(svc, origin.url(f"/q{i}.bin")) for i in range(3)]
        for t in tasks:
            assert wait_finished(svc, t.id).state == TaskState.COMPLETED
    finally:
        stop.set()
        sampler.join(5)
    assert most[0] == 1
    wait_for(lambda: svc.repo.count_in_state(TaskState.DOWNLOADING) == 0, 10, what="nothing downloading")
