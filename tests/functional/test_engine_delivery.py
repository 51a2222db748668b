"""At-least-once delivery and a throttling S3: duplicate work messages and SlowDown answers
cost at most some extra work, never a corrupt object or a miscounted task."""

from __future__ import annotations

import json
import os
import threading

import boto3
import pytest
from botocore.config import Config as BotoConfig

from chalicelib.aws import AwsClients
from chalicelib.container import build
from chalicelib.domain.states import TaskState
from chalicelib.models import PartModel
from chalicelib.schemas import AddDownload
from chalicelib.transfer import Delivery
from tests.support.engine import (
    OWNER,
    MiB,
    Watch,
    open_uploads,
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
            done = wait_finished(svc, task.id)
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
    with S3FaultProxy(emulator, throttle={1: 1, 2: 3, 3: 1}) as proxy:
        s3 = boto3.session.Session(region_name=svc.config.region).client(
            "s3",
            endpoint_url=proxy.url,
            config=BotoConfig(s3={"addressing_style": "path"}, retries={"mode": "standard", "total_max_attempts": 2}),
        )
        throttled = build(svc.config, clients=AwsClients(s3=s3, sqs=svc.clients.sqs))
        with poller(svc, throttled.transfer.handle, threads=2):
            task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/s3slow.bin")))
            done = wait_finished(svc, task.id)
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
    with S3FaultProxy(emulator, throttle_complete=2) as proxy:
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
