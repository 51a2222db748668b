"""The SQS work queue that carries start, lane and stream messages to the workers."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_DELAY_SECONDS = 900


class WorkQueue:
    def __init__(self, sqs: Any, queue_name: str) -> None:
        self._sqs = sqs
        self._name = queue_name
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._sqs.get_queue_url(QueueName=self._name)["QueueUrl"]
        return self._url

    def send(self, message: dict[str, Any], delay: float = 0) -> None:
        self._sqs.send_message(
            QueueUrl=self.url,
            MessageBody=json.dumps(message, separators=(",", ":")),
            DelaySeconds=int(min(max(delay, 0), MAX_DELAY_SECONDS)),
        )

    def send_many(self, messages: Iterable[dict[str, Any]]) -> None:
        batch: list[dict[str, Any]] = []
        for message in messages:
            batch.append(
                {"Id": str(len(batch)), "MessageBody": json.dumps(message, separators=(",", ":"))}
            )
            if len(batch) == 10:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def _flush(self, batch: list[dict[str, Any]]) -> None:
        result = self._sqs.send_message_batch(QueueUrl=self.url, Entries=batch)
        failed = result.get("Failed") or []
        for entry in failed:
            original = batch[int(entry["Id"])]
            self._sqs.send_message(QueueUrl=self.url, MessageBody=original["MessageBody"])

    def extend(self, receipt_handle: str, seconds: int) -> None:
        """Keep a message hidden from other workers while this one is still working on it."""
        self._sqs.change_message_visibility(
            QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
        )
