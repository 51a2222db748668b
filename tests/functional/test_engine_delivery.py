"""At-least-once delivery and a throttling S3: duplicate work messages and SlowDown answers
cost at most some extra work, never a corrupt object or a miscounted task."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import boto3
import pytest
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from chalicelib.adapters.aws import AwsClients
from chalicelib.container import build
from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.persistence.models import PartModel
from chalicelib.transfer import Delivery, Transfer
from tests.support.backend import endpoint_for
from tests.support.engine import (
    OWNER,
    MiB,
    Watch,
    fetched_ranges,
    open_uploads,
    part_ranges,
    poller,
    stored_sha256,
    wait_finished,
    wait_queue_idle,
)
from tests.support.origin import Resource
from tests.support.s3proxy import S3FaultProxy

# Nothing left active by an earlier test may hold a download slot.
pytestmark = pytest.mark.usefixtures("settled")


def test_duplicate_deliveries_cost_extra_work_but_never_a_bad_object(svc, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    data = os.urandom(4 * 5 * MiB + 333)
    res = origin.add("/dup.bin", Resource(data=data))
    errors: list[BaseException] = []
    requeued: set[str] = set()
    lock = threading.Lock()

    def handle(delivery: Delivery) -> None:
        """Every message is handled by two workers at once (a redelivery racing the first
        delivery); each lane message is also sent to the queue once more, to come back
        later as a stale copy."""

        def run() -> None:
            try:
                svc.transfer.handle(Delivery(dict(delivery.body), delivery.receipt_handle, delivery.receive_count))
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                errors.append(exc)

        racing = [threading.Thread(target=run) for _ in range(2)]
        for t in racing:
            t.start()
        for t in racing:
            t.join()
        body = json.dumps(delivery.body, sort_keys=True)
        with lock:
            again = delivery.body.get("kind") in {"start", "lane"} and body not in requeued
            requeued.add(body)
        if again:
            svc.queue.send(delivery.body)

    with poller(svc, handle, threads=4):
        task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/dup.bin")))
        with Watch(svc, task.id) as watch:
            # ~6 s when quiet; every delivery runs twice at once, so a loaded machine stretches it.
            done = wait_finished(svc, task.id, timeout=180)
            wait_queue_idle(svc)

    assert errors == []
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert done.parts_done == done.part_count == 5
    assert done.bytes_done == len(data)
    assert max(t.parts_done for t in watch.samples) <= 5
    after = svc.repo.get(task.id)
    assert after is not None and after.state == TaskState.COMPLETED and after.parts_done == 5
    assert sorted(int(p.number) for p in PartModel.query(task.id)) == [1, 2, 3, 4, 5]
    assert open_uploads(svc, done.key) == []


def test_s3_slowdown_on_upload_part_is_retried_and_the_object_is_intact(svc, origin, emulator) -> None:
    svc.settings.update(
        {"part_size": 5 * MiB, "parallel_parts": 2, "retry_base_seconds": 0.1, "retry_cap_seconds": 0.1}
    )
    data = os.urandom(3 * 5 * MiB + 17)
    res = origin.add("/s3slow.bin", Resource(data=data))
    # Part 1 and 3 are throttled once (botocore's own retry absorbs that); part 2 three
    # times, more than botocore tries (2), so the engine must retry the part itself.
    with S3FaultProxy(endpoint_for("s3", emulator), throttle={1: 1, 2: 3, 3: 1}) as proxy:
        s3 = boto3.session.Session(region_name=svc.config.region).client(
            "s3",
            endpoint_url=proxy.url,
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 2}),
        )
        throttled = build(svc.config, clients=AwsClients(s3=s3, sqs=svc.clients.sqs))
        with poller(svc, throttled.transfer.handle, threads=2):
            task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/s3slow.bin")))
            done = wait_finished(svc, task.id, timeout=180)
        seen = proxy.upload_parts

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert sorted(n for n, status in seen if status == 503) == [1, 2, 2, 2, 3]
    assert sorted(n for n, status in seen if status == 200) == [1, 2, 3, 4]
    assert done.parts_done == done.part_count == 4


def test_s3_slowdown_on_complete_multipart_upload_is_retried(svc, origin, emulator) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    data = os.urandom(5 * MiB + 99)
    res = origin.add("/s3slow.bin", Resource(data=data))
    # Two SlowDowns: more than botocore tries (2), so the worker's invocation fails and
    # SQS delivers the message again (after 2 s here); that delivery must finish the job.
    with S3FaultProxy(endpoint_for("s3", emulator), throttle_complete=2) as proxy:
        s3 = boto3.session.Session(region_name=svc.config.region).client(
            "s3",
            endpoint_url=proxy.url,
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 2}),
        )
        throttled = build(svc.config, clients=AwsClients(s3=s3, sqs=svc.clients.sqs))
        with poller(svc, throttled.transfer.handle, threads=2, visibility=2):
            task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/s3slow.bin")))
            done = wait_finished(svc, task.id, timeout=30)
        completes = proxy.completes

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert completes == [503, 503, 200]
    assert done.parts_done == done.part_count == 2


class _Killed(Exception):
    """What a worker killed in the middle of a message looks like to SQS: no answer, so the
    message comes back once its visibility timeout has passed."""


class _DiesBeforeUploading:
    """An object store whose first upload of ``part`` never happens: the worker "dies" after
    it fetched the part (and passed its lane on), before the part reaches S3."""

    def __init__(self, store: Any, part: int, error: Exception) -> None:
        self._store = store
        self._part = part
        self._error = error
        self.refused: list[int] = []

    def upload_part(self, key: str, upload_id: str, number: int, body: Any) -> Any:
        if number == self._part and not self.refused:
            self.refused.append(number)
            raise self._error
        return self._store.upload_part(key, upload_id, number, body)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _transfer_with(svc: Any, store: Any, visibility: int) -> Transfer:
    t = svc.transfer
    return Transfer(t.repo, store, t.queue, t.origin, t.settings, t.dispatcher, hosts=t.hosts,
                    visibility_timeout=visibility)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(_Killed("worker killed"), id="worker-dies"),
        pytest.param(
            ClientError({"Error": {"Code": "InternalError", "Message": "S3 broke"}}, "UploadPart"),
            id="s3-refuses",
        ),
    ],
)
def test_a_part_lost_after_its_lane_moved_on_is_fetched_again_alone(svc, origin, error) -> None:
    """The lane is passed on as soon as a part is fetched; if that part then never reaches
    S3, the redelivery (or the engine's retry) must still store it, though its lane has
    moved on: the task completes, and only that part is fetched twice."""
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2, "retry_base_seconds": 0.1,
                         "retry_cap_seconds": 0.1})
    data = os.urandom(6 * 5 * MiB + 1234)
    res = origin.add("/lost.bin", Resource(data=data))
    store = _DiesBeforeUploading(svc.store, part=3, error=error)
    transfer = _transfer_with(svc, store, visibility=2)
    with poller(svc, transfer.handle, threads=4, visibility=2):
        task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/lost.bin")))
        done = wait_finished(svc, task.id, timeout=30)
        wait_queue_idle(svc)

    assert store.refused == [3]
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert done.parts_done == done.part_count == 7
    ranges = part_ranges(len(data), 5 * MiB)
    # Every part once, part 3 twice: the lane went on without waiting for it.
    assert fetched_ranges(res.requests) == sorted(ranges + [ranges[2]])
    assert sorted(int(p.number) for p in PartModel.query(task.id)) == list(range(1, 8))
    assert open_uploads(svc, done.key) == []


def test_a_redelivered_part_its_lane_has_passed_and_recorded_is_not_fetched_again(svc, origin) -> None:
    """A redelivery of a part message whose lane moved on, where the part is stored already
    (the worker died after recording it, before the message was deleted): nothing is
    fetched again, and the task still completes."""
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 1})
    data = os.urandom(2 * 5 * MiB + 7)
    res = origin.add("/again.bin", Resource(data=data))
    first: list[dict[str, Any]] = []
    replayed: list[int] = []

    def handle(delivery: Delivery) -> None:
        body = delivery.body
        if body.get("kind") == "lane" and body["step"] == 1:
            first.append(dict(body))
        if body.get("kind") == "lane" and body["step"] == 3:
            # Part 1 is recorded and the lane is two steps on: SQS hands part 1's message out again.
            before = len(res.requests)
            svc.transfer.handle(Delivery(first[0], None, receive_count=2))
            replayed.append(len(res.requests) - before)
        svc.transfer.handle(delivery)

    with poller(svc, handle, threads=2):
        task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/again.bin")))
        done = wait_finished(svc, task.id, timeout=30)
        wait_queue_idle(svc)
    assert replayed == [0]
    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert fetched_ranges(res.requests) == part_ranges(len(data), 5 * MiB)
