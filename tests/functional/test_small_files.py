"""A file that fits in one part takes the short path: one PutObject by the start message, no
multipart upload, no lane message, no part record (chalicelib/transfer/planner.py ``Planner.single``).

The AWS requests one 4 MiB download costs, from the add to completed and its messages
deleted, are counted here: 47 on the multipart path (CreateMultipartUpload, UploadPart, a
part record and its count, the lane message, the finalisation's Queries, Complete, HeadObject
and the checksum's read back), 35 on the short path (39 and 26 before fair dispatch added its
reads to each kick; docs/performance.md).
"""

from __future__ import annotations

import hashlib
import os

import pytest

from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.transfer import Delivery
from tests.support.awscalls import counted
from tests.support.engine import OWNER, open_uploads, receive, wait_finished, wait_queue_idle
from tests.support.origin import Resource

MiB = 1024 * 1024
HOST = "127.0.0.1"
pytestmark = pytest.mark.usefixtures("settled")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_4_mib_download_is_one_put_object_and_few_requests(svc, workers, origin) -> None:
    data = os.urandom(4 * MiB)
    res = origin.add("/small.bin", Resource(data=data))
    with counted() as calls:
        task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/small.bin"), checksum=f"sha256:{_sha(data)}"))
        with calls.muted():
            done = wait_finished(svc, task.id)
            wait_queue_idle(svc)
    assert done.state == TaskState.COMPLETED, done.error
    print(f"AWS requests for one 4 MiB download: {calls.total()} ({calls.table()})")
    assert calls.of("PutObject") == 1 and calls.of("UploadPart") == 0 and calls.of("CreateMultipartUpload") == 0
    assert calls.of("CompleteMultipartUpload") == 0 and calls.of("HeadObject") == 0, calls.table()
    assert calls.of("SendMessage") + calls.of("SendMessageBatch") == 1, calls.table()  # the start, no lane
    # 26 measured (27 before the start message carried the task: the worker read it); 47 on the
    # multipart path
    assert calls.of("GetItem") <= 6 and calls.total() <= 26, calls.table()
    # The origin saw the probe and one ranged GET of the whole file; the checksum was checked in memory.
    assert [r["range"] for r in res.requests] == [(0, 0), (0, len(data) - 1)]
    body = svc.clients.s3.get_object(Bucket=svc.store.bucket, Key=done.key)["Body"].read()
    assert _sha(body) == _sha(data)
    assert (done.parts_done, done.part_count, done.bytes_done, done.upload_id) == (1, 1, len(data), None)
    assert svc.downloads.parts_done(OWNER, task.id)[1] == (1,)


def test_a_finishing_worker_starts_the_next_small_file_itself(svc, workers, origin, monkeypatch) -> None:
    """Chained starts (HAUL_CHAIN_STARTS, on in the local runtime and deployed): with one slot,
    the worker whose download finished keeps the next start of its kick's round and runs it:
    one start message for three downloads, in queue order, each stored and verified."""
    monkeypatch.setattr(svc.transfer.ctx, "chain_starts", True)
    svc.settings.update({"queue": {"max_concurrent_downloads": 1}})
    files = [os.urandom(4 * MiB) for _ in range(3)]
    for i, data in enumerate(files):
        origin.add(f"/chain{i}.bin", Resource(data=data))
    # All three are queued before any starts: were the first to finish before the next add is
    # stored (a busy machine), that add's own kick would start it with a message of its own.
    svc.queue_control.stop(OWNER)
    tasks = [svc.downloads.add(OWNER, AddDownload(url=origin.url(f"/chain{i}.bin"), checksum=f"sha256:{_sha(d)}"))
             for i, d in enumerate(files)]
    with counted() as calls:
        svc.queue_control.start(OWNER)
        with calls.muted():
            done = [wait_finished(svc, t.id) for t in tasks]
            wait_queue_idle(svc)
    assert [d.state for d in done] == [TaskState.COMPLETED] * 3, [d.error for d in done]
    for d, data in zip(done, files, strict=True):
        assert _sha(svc.clients.s3.get_object(Bucket=svc.store.bucket, Key=d.key)["Body"].read()) == _sha(data)
    assert [d.id for d in sorted(done, key=lambda d: d.finished_at or 0)] == [t.id for t in tasks]
    print(f"AWS requests for three chained 4 MiB downloads: {calls.total()} ({calls.table()})")
    assert calls.of("SendMessage") + calls.of("SendMessageBatch") == 1, calls.table()  # the first start only
    assert calls.of("DeleteMessageBatch") + calls.of("DeleteMessage") == 1, calls.table()
    # From the queue's start to the last finish (the adds are not counted): 3 start messages
    # without chaining, each received, deleted and its task read again
    assert calls.of("PutObject") == 3 and calls.total() <= 72, calls.table()


def test_chained_starts_keep_turns_between_users(svc, workers, origin, monkeypatch) -> None:
    """The start a finishing worker keeps is the fair round's pick: with one slot and two users'
    queues, the slot alternates between them (each finish chains the other user's next)."""
    monkeypatch.setattr(svc.transfer.ctx, "chain_starts", True)
    svc.settings.update({"queue": {"max_concurrent_downloads": 1}})
    origin.add("/turns.bin", Resource(data=os.urandom(MiB)))
    a, b = (Identity(f"{n}-{os.urandom(3).hex()}", n, Role.USER) for n in ("a", "b"))
    svc.queue_control.stop(OWNER)  # nothing starts while both queues fill
    ids = {who.user_id: [svc.downloads.add(who, AddDownload(url=origin.url("/turns.bin"), allow_duplicate=True)).id
                         for _ in range(3)] for who in (a, b)}
    with counted() as calls:
        svc.queue_control.start(OWNER)
        with calls.muted():
            done = [wait_finished(svc, i) for theirs in ids.values() for i in theirs]
    assert all(d.state == TaskState.COMPLETED for d in done), [d.error for d in done]
    assert calls.of("SendMessage") + calls.of("SendMessageBatch") == 1, calls.table()  # the first start only
    owners = [d.owner for d in sorted(done, key=lambda d: d.started_at or 0)]
    assert all(x != y for x, y in zip(owners, owners[1:], strict=False)), owners


def test_the_short_path_retries_fails_on_a_bad_checksum_and_stores_empty_files(svc, workers, origin) -> None:
    svc.settings.update({"retry_base_seconds": 0.1, "retry_cap_seconds": 0.2})
    flaky = os.urandom(300_000)
    origin.add("/flaky.bin", Resource(data=flaky, fail_status=503, failures=1, fail_after=1))  # the probe passes
    origin.add("/bad.bin", Resource(data=b"x" * 1000))
    origin.add("/empty.bin", Resource(data=b""))
    retried = svc.downloads.add(OWNER, AddDownload(url=origin.url("/flaky.bin")))
    bad = svc.downloads.add(OWNER, AddDownload(url=origin.url("/bad.bin"), checksum="sha256:" + "0" * 64))
    empty = svc.downloads.add(OWNER, AddDownload(url=origin.url("/empty.bin")))
    done = wait_finished(svc, retried.id)
    assert done.state == TaskState.COMPLETED, done.error
    assert _sha(svc.clients.s3.get_object(Bucket=svc.store.bucket, Key=done.key)["Body"].read()) == _sha(flaky)
    failed = wait_finished(svc, bad.id)
    assert failed.state == TaskState.FAILED and "checksum mismatch" in (failed.error or "")
    assert svc.store.size(failed.key) is None  # a wrong file is worse than none
    nothing = wait_finished(svc, empty.id)
    assert nothing.state == TaskState.COMPLETED and svc.store.size(nothing.key) == 0
    assert not open_uploads(svc, "downloads/")


def test_a_small_file_waits_for_a_host_slot_like_a_lane(svc, origin) -> None:
    svc.settings.update({"queue": {"per_host_connections": 1}, "retry": {"max_attempts": 1}})
    res = origin.add("/slot.bin", Resource(data=os.urandom(MiB)))
    hosts = svc.transfer.hosts
    assert hosts.acquire(HOST, "someone-else#0", 1)  # the only slot is taken
    try:
        task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/slot.bin")))
        start = receive(svc)
        assert start["kind"] == "start" and start["item"]["id"] == task.id  # it carries the task started
        again = start
        # It waits (sends its start again, unchanged but for the task it carried: a copy read
        # later reads the task afresh) as long as the slot stays taken.
        for _ in range(2):
            svc.transfer.handle(Delivery(again))
            again = receive(svc)
            assert again == {k: v for k, v in start.items() if k != "item"}
            waiting = svc.repo.get(task.id)
            assert waiting.state == TaskState.DOWNLOADING and waiting.note.startswith("waiting for a free connection")
        assert [r["range"] for r in res.requests] == [(0, 0), (0, 0)]  # probes only, nothing fetched
    finally:
        hosts.release(HOST, "someone-else#0")
    svc.transfer.handle(Delivery(again))
    done = svc.repo.get(task.id)
    assert done.state == TaskState.COMPLETED, done.error
    assert _sha(svc.clients.s3.get_object(Bucket=svc.store.bucket, Key=done.key)["Body"].read()) == res.sha256()
    assert hosts.held(HOST) == {} and done.note is None


def test_a_start_message_carries_its_task_and_a_stale_copy_costs_a_probe_only(svc, origin) -> None:
    """The worker plans with the task the start message carries (no GetItem); sent back to the
    queue meanwhile (a new run), that copy is stale: its plan is fenced off, nothing is fetched
    or stored, and the next start (a new message) downloads it. A redelivered start message
    reads the task afresh (an earlier attempt may have planned)."""
    data = os.urandom(MiB)
    res = origin.add("/carried.bin", Resource(data=data))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/carried.bin")))
    start = receive(svc)
    assert start["kind"] == "start" and (start["item"]["id"], start["item"]["run"]) == (task.id, start["run"])
    assert svc.dispatcher.send_back(svc.repo.get(task.id), "test", "sent back") is not None
    with counted() as calls:
        svc.transfer.handle(Delivery(start))
    # The settings and the lost plan's look at the task (renamed meanwhile?): no read before the probe
    assert calls.of("GetItem") == 2 and calls.of("PutObject") == 0, calls.table()
    held = svc.repo.get(task.id)
    assert held.state == TaskState.QUEUED and held.gen == 0 and held.run == start["run"] + 1
    assert [r["range"] for r in res.requests] == [(0, 0)]  # the probe, nothing fetched
    svc.dispatcher.kick()
    again = receive(svc)
    assert again["run"] == held.run + 1
    svc.transfer.handle(Delivery({**again, "item": start["item"]}, receive_count=2))  # read afresh
    done = svc.repo.get(task.id)
    assert done.state == TaskState.COMPLETED, done.error
    assert _sha(svc.clients.s3.get_object(Bucket=svc.store.bucket, Key=done.key)["Body"].read()) == _sha(data)
