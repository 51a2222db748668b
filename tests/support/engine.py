"""Helpers for the engine's functional fault tests: waiting on tasks and on the work queue,
reading back what landed in S3, and driving the worker handler with a test's own poller."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.planning import PartPlan
from chalicelib.domain.states import FINISHED, Action, TaskState
from chalicelib.domain.task import Task
from chalicelib.transfer import Delivery
from local_runtime.sqs_poller import SqsPoller, SqsSource
from tests.support.wait import wait_for

MiB = 1024 * 1024
# Who the tests act as: an admin, so clean-up may cancel whatever an earlier test left.
OWNER = Identity(user_id="local", username="local", role=Role.ADMIN)


def wipe_tasks() -> None:
    """Delete every task and part record: no task of another test takes a slot or shows up
    in a list."""
    from chalicelib.persistence.models import PartModel, TaskModel

    for task in TaskModel.scan():
        task.delete()
    with PartModel.batch_write() as batch:
        for part in PartModel.scan():
            batch.delete(part)


def stored_sha256(svc: Any, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in svc.store.read(key):
        digest.update(chunk)
    return digest.hexdigest()


def object_exists(svc: Any, key: str) -> bool:
    return svc.store.size(key) is not None


def open_uploads(svc: Any, key: str) -> list[str]:
    answer = svc.clients.s3.list_multipart_uploads(Bucket=svc.store.bucket, Prefix=key)
    return [u["UploadId"] for u in answer.get("Uploads", []) if u["Key"] == key]


def wait_state(svc: Any, task_id: str, states: set[TaskState] | frozenset[TaskState], timeout: float = 60) -> Task:
    def probe() -> Task | None:
        task = svc.repo.get(task_id)
        return task if task is not None and task.state in states else None

    return wait_for(probe, timeout, what=f"task {task_id} to be {sorted(s.value for s in states)}")


def wait_finished(svc: Any, task_id: str, timeout: float = 60) -> Task:
    return wait_state(svc, task_id, FINISHED, timeout)


def wait_until(svc: Any, task_id: str, test: Callable[[Task], bool], timeout: float = 60, what: str = "") -> Task:
    def probe() -> Task | None:
        task = svc.repo.get(task_id)
        return task if task is not None and test(task) else None

    return wait_for(probe, timeout, what=what or f"task {task_id} to reach a condition")


def queue_counts(svc: Any) -> tuple[int, int, int]:
    attrs = svc.clients.sqs.get_queue_attributes(
        QueueUrl=svc.queue.url,
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return (
        int(attrs["ApproximateNumberOfMessages"]),
        int(attrs["ApproximateNumberOfMessagesNotVisible"]),
        int(attrs["ApproximateNumberOfMessagesDelayed"]),
    )


def receive(svc: Any, wait: int = 10) -> dict[str, Any]:
    """The next work message (deleted from the queue), as a worker would get it."""
    deadline = time.monotonic() + wait + 5
    while time.monotonic() < deadline:
        answer = svc.clients.sqs.receive_message(
            QueueUrl=svc.queue.url, MaxNumberOfMessages=1, WaitTimeSeconds=min(wait, 5), VisibilityTimeout=30
        )
        for m in answer.get("Messages", []):
            svc.clients.sqs.delete_message(QueueUrl=svc.queue.url, ReceiptHandle=m["ReceiptHandle"])
            return dict(json.loads(m["Body"]))
    raise AssertionError("no work message arrived")


def wait_queue_idle(svc: Any, timeout: float = 30) -> None:
    """Every work message handled and deleted: no worker is still on the task."""
    wait_for(lambda: queue_counts(svc) == (0, 0, 0), timeout, interval=0.1, what="the work queue to drain")


def part_ranges(size: int, part_size: int, numbers: list[int] | None = None) -> list[tuple[int, int]]:
    count = max(1, -(-size // part_size))
    plan = PartPlan(size, part_size, count)
    return [plan.bounds(n) for n in (numbers or range(1, count + 1))]


def fetched_ranges(requests: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """The byte ranges the origin served (206) to the given requests, probes left out."""
    return sorted(r["range"] for r in requests if r.get("status") == 206 and r.get("range") != (0, 0))


def settle(svc: Any) -> None:
    """Cancel whatever a test left active, so it cannot hold a download slot in the next."""
    for state in (TaskState.QUEUED, TaskState.DOWNLOADING, TaskState.PAUSED):
        for task_id in svc.repo.ids_in_state(state):
            task = svc.repo.get(task_id)
            if task is None:
                continue
            try:
                svc.downloads.act(OWNER, task_id, Action.CANCEL)
            except Exception:  # noqa: BLE001 - best effort clean-up between tests
                pass


@contextmanager
def poller(
    svc: Any, handle: Callable[[Delivery], None], threads: int = 4, visibility: int = 30
) -> Iterator[SqsPoller]:
    """Poll the work queue and hand every message to ``handle`` (instead of app.py's handler).

    A message whose handler raises is left on the queue, so SQS delivers it again once
    ``visibility`` seconds have passed, as Lambda's event source mapping would.
    """

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            count = int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))
            handle(Delivery(json.loads(record["body"]), record["receiptHandle"], count))
        return {"batchItemFailures": []}

    source = SqsSource(svc.config.work_queue, "work", handler)
    p = SqsPoller(
        svc.clients.sqs, source, threads, visibility_timeout=visibility, region=svc.config.region, wait_seconds=1
    )
    p.start()
    try:
        yield p
    finally:
        p.stop()


class Watch:
    """Samples a task in the background; ``samples`` holds every task state seen."""

    def __init__(self, svc: Any, task_id: str, interval: float = 0.05) -> None:
        self._svc = svc
        self._task_id = task_id
        self._interval = interval
        self._stop = threading.Event()
        self.samples: list[Task] = []
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            task = self._svc.repo.get(self._task_id)
            if task is not None:
                self.samples.append(task)
