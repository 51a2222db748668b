"""Lambda's SQS event source mapping, locally: long-poll, invoke, delete what succeeded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .lambda_context import LambdaContext

log = logging.getLogger("haul.local.sqs")
Handler = Callable[[dict[str, Any], Any], Any]
# Long-poll wait of each receive (SQS allows up to 20 s; short keeps shutdown quick).
POLL_WAIT_SECONDS = 2
# Idle threads of one poller that wait in a long poll at once; the others wait for their turn
# here. Each message the emulator takes wakes every receiver waiting on its queue, and each
# waiting receiver asks again every POLL_WAIT_SECONDS: with 8 threads per worker process,
# mostly idle, the empty receives were a large share of the emulator's requests and CPU in a
# batch of small downloads (docs/performance.md). A thread that gets a message lets the next
# one in before it runs the handler, so up to ``threads`` messages are still handled at once.
RECEIVERS = 2


@dataclass(frozen=True)
class SqsSource:
    queue_name: str
    handler_name: str
    handler: Handler
    batch_size: int = 1


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda hands an SQS handler, built from ReceiveMessage's answer."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": m.get("MessageAttributes", {}),
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for m in messages
        ]
    }


class SqsPoller:
    """Polls one queue with ``threads`` concurrent invocations, until :meth:`stop`."""

    def __init__(
        self, sqs: Any, source: SqsSource, threads: int, visibility_timeout: int,
        region: str, wait_seconds: int = POLL_WAIT_SECONDS, timeout_seconds: float = 900.0,
        receivers: int = RECEIVERS,
    ) -> None:
        """``timeout_seconds``: each invocation's time limit, as its Lambda context reports it;
        ``receivers``: how many of the ``threads`` long-poll at once (RECEIVERS)."""
        self._sqs = sqs
        self._timeout = timeout_seconds
        self._source = source
        self._threads = threads
        self._visibility = visibility_timeout
        self._region = region
        self._wait = wait_seconds
        self._stop = threading.Event()
        self._receiving = threading.BoundedSemaphore(max(1, min(receivers, threads)))
        self._workers: list[threading.Thread] = []
        url = sqs.get_queue_url(QueueName=source.queue_name)["QueueUrl"]
        self._url = url
        self._arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def start(self) -> None:
        for i in range(self._threads):
            thread = threading.Thread(target=self._loop, name=f"sqs-{self._source.handler_name}-{i}", daemon=True)
            thread.start()
            self._workers.append(thread)

    def request_stop(self) -> None:
        """Stop taking new work; :meth:`stop` then waits for the work in hand."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (ClientError, BotoCoreError) as exc:
                if self._stop.is_set():
                    return
                log.warning("polling %s failed: %s", self._source.queue_name, exc)
                self._stop.wait(1.0)

    def poll_once(self) -> int:
        with self._receiving:
            if self._stop.is_set():
                return 0
            answer = self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=self._source.batch_size,
                WaitTimeSeconds=self._wait,
                VisibilityTimeout=self._visibility,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
        messages = answer.get("Messages") or []
        if not messages:
            return 0
        event = sqs_event(messages, self._arn, self._region)
        failed: set[str] = {m["MessageId"] for m in messages}
        try:
            result = self._source.handler(event, LambdaContext(self._source.handler_name, self._timeout))
            reported = (result or {}).get("batchItemFailures", []) if isinstance(result, dict) else []
            failed = {str(f.get("itemIdentifier")) for f in reported}
        except Exception:
            log.exception("handler %s raised; the batch returns to the queue", self._source.handler_name)
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return len(messages)


def sqs_sources(app_module: Any) -> list[SqsSource]:
    """The SQS handlers the Chalice app declares, as Lambda's event source mappings would see them."""
    from chalice.app import SQSEventConfig

    sources = []
    for config in app_module.app.event_sources:
        if isinstance(config, SQSEventConfig) and config.queue:
            handler_name = config.handler_string.rsplit(".", 1)[-1]
            sources.append(
                SqsSource(config.queue, handler_name, getattr(app_module, handler_name), config.batch_size or 1)
            )
    return sources
