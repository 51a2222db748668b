"""The statistics stream handler (app.py's aggregate_changes) driven by a local stream poller."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import boto3

from local_runtime.stream_poller import StreamPoller, stream_sources


@contextmanager
def aggregate_poller() -> Iterator[StreamPoller]:
    """Poll the tasks table's stream into ``aggregate_changes`` (from now on: LATEST)."""
    import app as app_module

    (source,) = [s for s in stream_sources(app_module) if s.handler_name == "aggregate_changes"]
    session = boto3.session.Session()
    poller = StreamPoller(session.client("dynamodb"), session.client("dynamodbstreams"), source,
                          session.region_name or "us-east-1").start()
    try:
        yield poller
    finally:
        poller.stop()
        forget_counters()


def forget_counters() -> None:
    """Delete every statistics counter. Counters kept only while a test polled the stream are
    wrong for the tests after it (their changes go uncounted); without counters, lists count
    with a Query instead."""
    from chalicelib.persistence.models import StatsModel

    with StatsModel.batch_write() as batch:
        for item in StatsModel.scan():
            batch.delete(item)
