"""Counting the AWS requests this process makes: every botocore client, PynamoDB's included.

``with counted() as calls: ...`` then ``calls.of("BatchWriteItem")`` or ``calls.total()``.
Retries inside botocore count once (they are one call of the code under test); DynamoDB
Streams reads (the test's stream pollers) and SQS receives (the pollers' long polls) are
left out, since they cost per second, not per download.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client

IGNORED = {("dynamodbstreams", "*"), ("sqs", "ReceiveMessage")}


class Calls:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        self._muted: set[int] = set()

    @contextmanager
    def muted(self) -> Iterator[None]:
        """Within the block, this thread's calls (a test polling for the outcome) do not count."""
        self._muted.add(threading.get_ident())
        try:
            yield
        finally:
            self._muted.discard(threading.get_ident())

    def add(self, service: str, operation: str) -> None:
        if (service, "*") in IGNORED or (service, operation) in IGNORED or threading.get_ident() in self._muted:
            return
        with self._lock:
            self.counts[(service, operation)] += 1

    def of(self, operation: str) -> int:
        return sum(n for (_, op), n in self.counts.items() if op == operation)

    def total(self) -> int:
        return sum(self.counts.values())

    def table(self) -> str:
        return ", ".join(f"{svc}.{op}={n}" for (svc, op), n in sorted(self.counts.items()))


@contextmanager
def counted() -> Iterator[Calls]:
    calls = Calls()
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        calls.add(self.meta.service_model.service_name, operation_name)
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting
    try:
        yield calls
    finally:
        botocore.client.BaseClient._make_api_call = original
