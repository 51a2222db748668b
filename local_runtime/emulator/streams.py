"""DynamoDB Streams in the emulator keep what the service keeps, not everything (bounded growth).

- **Records, 24 hours.** DynamoDB Streams keeps a stream record for 24 hours; moto keeps every
  record of the table's life (each with the item's old and new image). Here a shard drops
  its records older than ``RETENTION_SECONDS`` (checked as records are added, dropped in
  batches), advancing the shard's starting sequence number by as many: the sequence numbers
  of the records kept, and of the next ones, do not change. An iterator pointing before the
  oldest record kept reads from the oldest kept (the service answers TrimmedDataAccess).
- **Shard iterators, 15 minutes.** A shard iterator expires 15 minutes after it was handed
  out; moto keeps every one it ever made, and every GetRecords makes one (a stream poller
  makes ~4 a second per consumer: ~1 M a day, ~1.5 KB each). Here they expire after
  ``ITERATOR_SECONDS`` (using one answers ExpiredIteratorException, as the service does).
"""

from __future__ import annotations

import collections
import functools
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

RETENTION_SECONDS = float(os.environ.get("HAUL_STREAM_RETENTION_SECONDS") or 24 * 3600)
ITERATOR_SECONDS = 15 * 60.0
_TRIM_SLACK = 0.02  # drop in batches: once the oldest record is this much (of the retention) past it

_issued: collections.deque[tuple[float, Any, str]] = collections.deque()  # (time, backend, arn)
_issued_lock = threading.Lock()


def _created(record: Any) -> datetime | None:
    stamp = record.record.get("dynamodb", {}).get("ApproximateCreationDateTime")
    return stamp if isinstance(stamp, datetime) else None


def trim(shard: Any, now: datetime, retention: float) -> int:
    """Drop the shard's records older than ``retention`` seconds; how many were dropped."""
    items = shard.items
    if not items:
        return 0
    oldest = _created(items[0])
    if oldest is None or now - oldest < timedelta(seconds=retention * (1 + _TRIM_SLACK)):
        return 0
    cutoff = now - timedelta(seconds=retention)
    lo, hi = 0, len(items)
    while lo < hi:  # records are appended in time order: the first one to keep
        mid = (lo + hi) // 2
        created = _created(items[mid])
        if created is not None and created < cutoff:
            lo = mid + 1
        else:
            hi = mid
    if lo:
        del items[:lo]
        shard.starting_sequence_number += lo
    return lo


def _trimming_add(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def add(self: Any, old: Any, new: Any) -> None:
        original(self, old, new)
        items = self.items
        if items:
            created = _created(items[-1])
            if created is not None:
                trim(self, created, RETENTION_SECONDS)

    return add


def _clamped_get(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get(self: Any, start: int, quantity: int) -> list[dict[str, Any]]:
        return original(self, max(start, self.starting_sequence_number), quantity)

    return get


def _expire(now: float) -> None:
    with _issued_lock:
        while _issued and now - _issued[0][0] > ITERATOR_SECONDS:
            _, owner, arn = _issued.popleft()
            owner.shard_iterators.pop(arn, None)


def _remember(backend: Any, arns: list[str]) -> None:
    now = time.monotonic()
    with _issued_lock:
        for arn in arns:
            _issued.append((now, backend, arn))
    _expire(now)


def _expiring_get_shard_iterator(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_shard_iterator(self: Any, *args: Any, **kwargs: Any) -> Any:
        iterator = original(self, *args, **kwargs)
        _remember(self, [iterator.arn])
        return iterator

    return get_shard_iterator


def _expiring_get_records(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        from moto.core.exceptions import JsonRESTError

        if iterator_arn not in self.shard_iterators:
            raise JsonRESTError("ExpiredIteratorException", "Iterator expired")
        answer: dict[str, Any] = original(self, iterator_arn, limit)
        _remember(self, [answer["NextShardIterator"]])
        return answer

    return get_records


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch()."""
    from moto.dynamodb.models.table import StreamShard
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    return [
        (StreamShard, "add", _trimming_add), (StreamShard, "get", _clamped_get),
        (DynamoDBStreamsBackend, "get_shard_iterator", _expiring_get_shard_iterator),
        (DynamoDBStreamsBackend, "get_records", _expiring_get_records),
    ]
