"""A worker process: what a Lambda sandbox is to the SQS handlers, apart from the emulator.

Run as ``python -m local_runtime.worker``; it polls every SQS source of app.py until it is
told to stop (SIGTERM/SIGINT), then lets the current message finish.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import threading

import boto3
from botocore.config import Config as BotoConfig

from . import orphans, useragent
from .realtime import start_stream_pollers
from .sqs_poller import SqsPoller, sqs_sources
from .stream_poller import StreamPoller

log = logging.getLogger("haul.local.worker")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=int(os.environ.get("HAUL_WORKER_THREADS", "8")))
    parser.add_argument("--visibility", type=int, default=int(os.environ.get("HAUL_VISIBILITY_TIMEOUT", "30")))
    parser.add_argument("--parent", type=int, default=0, help="the runtime's pid: exit when it dies")
    parser.add_argument(
        "--primary", action="store_true", help="also poll the secondary queues (DLQ) and the table streams"
    )
    args = parser.parse_args()
    stop = threading.Event()
    if args.parent:
        # First thing: a runtime killed while this worker starts must not leave it behind.
        orphans.guard(args.parent, stop.set)

    useragent.install()  # each client's User-Agent built once (local_runtime/useragent.py)
    app_module = importlib.import_module("app")
    from chalicelib.container import warm

    warm()  # the clients now, not during the first download
    def on_signal(*_: object) -> None:
        orphans.exit_if_orphaned(args.parent)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)

    region = app_module.CONFIG.region
    # One connection per long poll held open at once (the work queue's threads, the primary's
    # other queues) and the deletes between them: botocore's default pool of 10 was too small,
    # and each connection over it was dropped after its request ("Connection pool is full").
    pool = max(32, args.threads + 16)
    sqs = boto3.session.Session(region_name=region).client("sqs", config=BotoConfig(max_pool_connections=pool))
    pollers = []
    for source in sqs_sources(app_module):
        is_work = source.queue_name == app_module.CONFIG.work_queue
        if not is_work and not args.primary:
            continue
        threads = args.threads if is_work else 1
        poller = SqsPoller(sqs, source, threads, args.visibility, region)
        poller.start()
        pollers.append(poller)
    streams = start_stream_pollers(app_module) if args.primary else []
    polled = [p._source.queue_name for p in pollers] + [f"{s.source.table_name} stream" for s in streams]
    log.info("worker %d polling %s", os.getpid(), ", ".join(polled))
    print("ready", flush=True)  # the supervisor waits for this line
    stop.wait()
    # Every poller stops taking work at once, then each finishes what it holds: the stop
    # takes as long as the slowest, not the sum of them.
    running: list[StreamPoller | SqsPoller] = [*streams, *pollers]
    for each in running:
        each.request_stop()
    for each in running:
        each.stop()


if __name__ == "__main__":
    main()
