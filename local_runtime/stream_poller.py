"""Lambda's DynamoDB Streams event source mapping, locally: read the stream, invoke the handler.

For each ``@app.on_dynamodb_record`` handler it reads the stream of the table its ARN names
(locally the ARN is a placeholder: the table name is what counts), shard by shard and in
order, and invokes the handler with Lambda-shaped events, honouring the declared batch size,
batching window and starting position. A batch whose handler raises is retried (as Lambda
does) a few times, then skipped with an error in the log, so one bad batch cannot stall
the fan-out forever.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .emulator.datadir import atomic_write
from .lambda_context import LambdaContext

log = logging.getLogger("haul.local.streams")
Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True)
class StreamSource:
    handler_name: str
    handler: Handler
    table_name: str
    batch_size: int = 100
    window_seconds: float = 0.0
    starting_position: str = "LATEST"


def table_of(stream_arn: str) -> str:
    """``arn:aws:dynamodb:region:account:table/NAME/stream/LABEL`` -> ``NAME``."""
    resource = stream_arn.split(":", 5)[-1]
    parts = resource.split("/")
    if len(parts) < 2 or parts[0] != "table":
        raise ValueError(f"not a DynamoDB stream ARN: {stream_arn}")
    return parts[1]


def stream_sources(app_module: Any) -> list[StreamSource]:
    from chalice.app import DynamoDBEventConfig

    out = []
    for config in app_module.app.event_sources:
        if isinstance(config, DynamoDBEventConfig):
            name = config.handler_string.rsplit(".", 1)[-1]
            out.append(StreamSource(
                name, getattr(app_module, name), table_of(config.stream_arn), config.batch_size or 100,
                float(config.maximum_batching_window_in_seconds or 0), config.starting_position or "LATEST",
            ))
    return out


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda hands it to a handler."""
    data = dict(record.get("dynamodb") or {})
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    elif created is None:
        data["ApproximateCreationDateTime"] = time.time()
    return {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": data,
        "eventSourceARN": stream_arn,
    }


class StreamPoller:
    """The reader of one table's stream for one handler, or for several (``source`` a list: the
    handlers of :func:`shared_sources`, one GetRecords for all of them). While records come it
    asks again every ``poll_interval`` seconds, as Lambda polls each shard four times a second;
    an idle stream every ``idle_interval``."""

    def __init__(
        self, dynamodb: Any, streams: Any, source: StreamSource | Sequence[StreamSource], region: str,
        poll_interval: float = 0.25, idle_interval: float = 0.5, attempts: int = 3,
    ) -> None:
        self.sources = [source] if isinstance(source, StreamSource) else list(source)
        if not self.sources or len({s.table_name for s in self.sources}) != 1:
            raise ValueError("a stream poller reads one table's stream for one handler or more")
        if len(self.sources) > 1 and any(s.window_seconds > 0 for s in self.sources):
            raise ValueError("handlers with a batching window are read each on its own")
        self.source = self.sources[0]
        self._dynamodb = dynamodb
        self._streams = streams
        self._region = region
        self._poll = poll_interval
        self._idle = idle_interval
        self._attempts = attempts
        # One read serves every handler: as many records as the largest batch (GetRecords <= 1000).
        self._limit = min(1000, max(s.batch_size for s in self.sources))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._arn = ""
        self._iterators: dict[str, str | None] = {}
        self._last_seq: dict[str, str] = {}
        self._last_records = 0.0
        self.invocations = 0
        self.records = 0
        self.skipped = 0
        # With a data directory, the position survives a restart (Lambda's event source mapping
        # keeps it in the service): the consumer goes on after the last record it handled.
        # Each handler keeps its own file (a shared reader writes them all, with one position).
        self._checkpoints = [c for s in self.sources if (c := checkpoint_of(s)) is not None]

    @property
    def stream_arn(self) -> str:
        return self._arn

    def start(self) -> StreamPoller:
        self._arn = self._dynamodb.describe_table(TableName=self.source.table_name)["Table"]["LatestStreamArn"]
        self._discover(initial=True)
        self._thread = threading.Thread(target=self._loop, name=f"stream-{self.source.handler_name}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Stop taking new work; :meth:`stop` then waits for the work in hand."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _discover(self, initial: bool = False) -> None:
        shards = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"].get("Shards", [])
        saved = self._checkpoints[0].read() if initial and self._checkpoints else {}
        for shard in shards:
            sid = shard["ShardId"]
            if sid in self._iterators or sid in self._last_seq:
                continue
            if sid in saved:  # where this consumer was when its runtime last stopped
                self._last_seq[sid] = saved[sid]
                self._iterators[sid] = self._iterator(sid, "AFTER_SEQUENCE_NUMBER", saved[sid])
                continue
            # Shards that appear later (splits) are read from their start, as Lambda does.
            kind = self.source.starting_position if initial else "TRIM_HORIZON"
            self._iterators[sid] = self._iterator(sid, kind)

    def _iterator(self, shard_id: str, kind: str, after: str | None = None) -> str | None:
        kwargs: dict[str, Any] = {"StreamArn": self._arn, "ShardId": shard_id, "ShardIteratorType": kind}
        if after is not None:
            kwargs["SequenceNumber"] = after
        return self._streams.get_shard_iterator(**kwargs).get("ShardIterator")

    def _loop(self) -> None:
        last_discovery = time.monotonic()
        while not self._stop.is_set():
            try:
                got = self.poll_once()
                if time.monotonic() - last_discovery > 10:
                    self._discover()
                    last_discovery = time.monotonic()
            except (ClientError, BotoCoreError) as exc:
                if self._stop.is_set():
                    return
                log.warning("reading the stream of %s failed: %s", self.source.table_name, exc)
                self._reopen()
                got = 0
            if not got:
                busy = time.monotonic() - self._last_records < 5
                self._stop.wait(self._poll if busy else self._idle)

    def _reopen(self) -> None:
        """New iterators after an error (an expired iterator, say), after the last record seen."""
        for sid in list(self._iterators):
            try:
                after = self._last_seq.get(sid)
                self._iterators[sid] = (
                    self._iterator(sid, "AFTER_SEQUENCE_NUMBER", after) if after
                    else self._iterator(sid, "LATEST")
                )
            except (ClientError, BotoCoreError) as exc:
                log.warning("reopening shard %s failed: %s", sid, exc)

    def poll_once(self) -> int:
        """Read each shard once (longer while a batching window is open); records handled."""
        total = 0
        for sid in list(self._iterators):
            batch = self._read(sid)
            if self.source.window_seconds > 0 and batch:
                deadline = time.monotonic() + self.source.window_seconds
                while len(batch) < self.source.batch_size and time.monotonic() < deadline:
                    if self._stop.wait(min(self._poll, max(0.0, deadline - time.monotonic()))):
                        break
                    batch += self._read(sid, self.source.batch_size - len(batch))
            if batch:
                self._invoke(batch)
                total += len(batch)
        return total

    def _read(self, sid: str, limit: int | None = None) -> list[dict[str, Any]]:
        iterator = self._iterators.get(sid)
        if iterator is None:
            self._iterators.pop(sid, None)
            return []
        answer = self._streams.get_records(ShardIterator=iterator, Limit=limit or self._limit)
        self._iterators[sid] = answer.get("NextShardIterator")
        records = answer.get("Records") or []
        if records:
            self._last_seq[sid] = records[-1]["dynamodb"]["SequenceNumber"]
            self._last_records = time.monotonic()
        return list(records)

    def _invoke(self, records: list[dict[str, Any]]) -> None:
        """Each handler in turn, with the records in batches of its size; then the position."""
        for source in self.sources:
            lambda_records = [lambda_record(r, self._arn, self._region) for r in records]
            size = max(1, source.batch_size)
            for start in range(0, len(lambda_records), size):
                if not self._invoke_one(source, lambda_records[start:start + size]):
                    return
        self._save_position()

    def _invoke_one(self, source: StreamSource, records: list[dict[str, Any]]) -> bool:
        """One batch to one handler, tried ``attempts`` times, then skipped with an error in the
        log; False if the poller was stopped meanwhile (the position is then not saved)."""
        for attempt in range(1, self._attempts + 1):
            try:
                source.handler({"Records": records}, LambdaContext(source.handler_name))
                self.invocations += 1
                self.records += len(records)
                return True
            except Exception:
                log.exception("stream handler %s failed (attempt %d of %d)", source.handler_name, attempt,
                              self._attempts)
                if self._stop.wait(0.2 * attempt):
                    return False
        self.skipped += len(records)
        log.error("skipped %d stream record(s) of %s after %d failed attempts", len(records),
                  source.handler_name, self._attempts)
        return True

    def _save_position(self) -> None:
        for checkpoint in self._checkpoints:
            checkpoint.write(self._last_seq)


def checkpoint_of(source: StreamSource) -> Checkpoint | None:
    """Where ``source``'s handler keeps its position, when a data directory is in use."""
    data = os.environ.get("HAUL_DATA_DIR_IN_USE")
    return Checkpoint(Path(data) / "streams" / f"{source.handler_name}.json") if data else None


def shared_sources(sources: Sequence[StreamSource]) -> list[list[StreamSource]]:
    """The handlers, grouped so that one reader serves each group: those of the same table
    that start at the same position and have no batching window, unless their saved positions
    differ (a data directory written otherwise): those are read each on its own. Locally one
    GetRecords for the four consumers of the tasks table instead of four (each answer parsed
    once, not four times, in the worker that polls them)."""
    groups: dict[tuple[str, str], list[StreamSource]] = {}
    alone: list[list[StreamSource]] = []
    for source in sources:
        if source.window_seconds > 0:
            alone.append([source])
        else:
            groups.setdefault((source.table_name, source.starting_position), []).append(source)
    out: list[list[StreamSource]] = []
    for group in groups.values():
        saved = [c.read() if (c := checkpoint_of(s)) is not None else {} for s in group]
        if all(p == saved[0] for p in saved):
            out.append(group)
        else:
            out.extend([s] for s in group)
    return out + alone


class Checkpoint:
    """A consumer's last handled sequence number per shard, in a small file (atomic writes)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, str]:
        try:
            found = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}

    def write(self, positions: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps(positions).encode(), durable=False)
