"""The local SQS poller: only a few of its threads long-poll at once, yet every thread can run
a message's handler at the same time (a fake SQS client; no emulator)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from local_runtime.sqs_poller import SqsPoller, SqsSource
from tests.support.wait import wait_for


class FakeSqs:
    """Hands out queued messages; a receive with none waits up to its WaitTimeSeconds (a long
    poll), and counts how many receives wait at once."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.messages: list[dict[str, Any]] = []
        self.receiving = 0
        self.most_receiving = 0
        self.calls = 0
        self.deleted: list[str] = []
        self.closed = False

    def get_queue_url(self, QueueName: str) -> dict[str, str]:  # noqa: N803 (boto3's names)
        return {"QueueUrl": f"http://sqs.local/{QueueName}"}

    def get_queue_attributes(self, **_: Any) -> dict[str, Any]:
        return {"Attributes": {"QueueArn": "arn:aws:sqs:us-east-1:000000000000:work"}}

    def receive_message(self, WaitTimeSeconds: int, **_: Any) -> dict[str, Any]:  # noqa: N803
        with self.cond:
            self.receiving += 1
            self.calls += 1
            self.most_receiving = max(self.most_receiving, self.receiving)
            try:
                self.cond.wait_for(lambda: self.messages or self.closed, timeout=WaitTimeSeconds)
                return {"Messages": [self.messages.pop(0)]} if self.messages else {}
            finally:
                self.receiving -= 1

    def delete_message_batch(self, Entries: list[dict[str, str]], **_: Any) -> None:  # noqa: N803
        with self.cond:
            self.deleted += [e["ReceiptHandle"] for e in Entries]

    def send(self, n: int) -> None:
        with self.cond:
            self.messages += [{"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "{}"} for i in range(n)]
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


class Holding:
    """A handler that holds each message until released, counting how many it holds at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most_running = 0

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        self.release.wait(30)
        with self.lock:
            self.running -= 1


@pytest.fixture()
def fake() -> Iterator[tuple[FakeSqs, Holding, SqsPoller]]:
    sqs, handler = FakeSqs(), Holding()
    poller = SqsPoller(sqs, SqsSource("work", "work", handler), 6, visibility_timeout=30, region="us-east-1",
                       wait_seconds=1, receivers=2)
    poller.start()
    yield sqs, handler, poller
    handler.release.set()
    poller.request_stop()
    sqs.close()
    poller.stop()


def test_only_the_receivers_long_poll_at_once(fake) -> None:
    sqs, _, _ = fake
    # Six idle threads, three rounds of long polls: never more than two waited in a receive.
    wait_for(lambda: sqs.calls >= 6, 20, what="six receives")
    assert sqs.most_receiving == 2


def test_every_thread_still_handles_a_message_at_once(fake) -> None:
    sqs, handler, _ = fake
    sqs.send(6)
    wait_for(lambda: handler.running == 6, 10, what="six handlers running at once")
    handler.release.set()
    wait_for(lambda: len(sqs.deleted) == 6, 10, what="the six messages deleted")
    assert sqs.most_receiving <= 2
