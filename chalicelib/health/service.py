"""GET /health/detailed: each dependency probed (in parallel, each within a few seconds),
with its time, a status and figures; the overall status is the worst of them.

- ``dynamodb``: a GetItem on the control table;
- ``s3``: HeadBucket on the files bucket;
- ``sqs``: depth (visible, in flight, delayed) of the work, jobs and notify queues and of
  their dead-letter queues (a dead letter waiting makes it ``degraded``);
- ``stream``: the fan-out's lag: how old the newest tasks-stream record was when the fan-out
  last handled a batch, and how long ago that was;
- ``workers``: the age of the newest worker heartbeat (a worker notes when it takes a
  message); old while work waits in the queue is ``degraded``, idle with an empty queue is
  fine (Lambda keeps no idle workers);
- extra probes other packages add with :func:`add_probe` (the local data directory's size).

``GET /health`` stays the cheap public liveness answer (functions/rest/downloads.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from .persistence import read_mark

log = logging.getLogger("haul.health")
STARTED = time.time()
PROBE_TIMEOUT_SECONDS = 8.0
STREAM_LAG_DEGRADED_MS = 60_000
HEARTBEAT_DEGRADED_SECONDS = 300
ORDER = {"ok": 0, "degraded": 1, "down": 2}
Probe = Callable[[], dict[str, Any]]
_EXTRA: dict[str, Probe] = {}


def add_probe(name: str, probe: Probe) -> None:
    """Add a check to the report: ``probe()`` answers ``{"status": "ok"|"degraded"|"down", ...}``
    (raising counts as ``down`` with the error)."""
    _EXTRA[name] = probe


class HealthService:
    def __init__(self, *, dynamodb: Any, control_table: str, s3: Any, bucket: str, sqs: Any,
                 queues: dict[str, str], stage: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.dynamodb = dynamodb
        self.control_table = control_table
        self.s3 = s3
        self.bucket = bucket
        self.sqs = sqs
        self.queues = queues  # name in the report -> queue name (``*_dlq`` for dead-letter queues)
        self.stage = stage
        self.clock = clock

    # -- probes ----------------------------------------------------------------------------------
    def _dynamodb(self) -> dict[str, Any]:
        self.dynamodb.get_item(TableName=self.control_table, Key={"pk": {"S": "health-probe"}})
        return {"status": "ok"}

    def _s3(self) -> dict[str, Any]:
        self.s3.head_bucket(Bucket=self.bucket)
        return {"status": "ok", "bucket": self.bucket}

    def _sqs(self) -> dict[str, Any]:
        depths: dict[str, dict[str, int]] = {}
        status = "ok"
        for name, queue in self.queues.items():
            url = self.sqs.get_queue_url(QueueName=queue)["QueueUrl"]
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed"])["Attributes"]
            depths[name] = {"visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
                            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                            "delayed": int(attrs.get("ApproximateNumberOfMessagesDelayed", 0))}
            if name.endswith("_dlq") and depths[name]["visible"] + depths[name]["in_flight"] > 0:
                status = "degraded"
        out: dict[str, Any] = {"status": status, "queues": depths}
        if status == "degraded":
            out["detail"] = "messages are waiting in a dead-letter queue"
        return out

    def _stream(self) -> dict[str, Any]:
        marked = read_mark("fanout")
        if marked is None:
            return {"status": "ok", "detail": "no stream batch handled yet", "lag_ms": None, "last_batch_age_s": None}
        age = max(0.0, self.clock() - int(marked.get("at") or 0) / 1000)
        lag = marked.get("lag_ms")
        status = "degraded" if lag is not None and lag > STREAM_LAG_DEGRADED_MS else "ok"
        return {"status": status, "lag_ms": lag, "last_batch_age_s": round(age, 1)}

    def _workers(self, work_waiting: int | None) -> dict[str, Any]:
        marked = read_mark("worker")
        age = None if marked is None else round(max(0.0, self.clock() - int(marked.get("at") or 0) / 1000), 1)
        waiting = bool(work_waiting)
        stale = age is None or age > HEARTBEAT_DEGRADED_SECONDS
        out: dict[str, Any] = {"status": "degraded" if waiting and stale else "ok", "heartbeat_age_s": age}
        if waiting and stale:
            out["detail"] = "work is waiting and no worker has taken a message lately"
        return out

    # -- the report ------------------------------------------------------------------------------
    def report(self, version: str) -> dict[str, Any]:
        began = time.perf_counter()
        probes: dict[str, Probe] = {"dynamodb": self._dynamodb, "s3": self._s3, "sqs": self._sqs,
                                    "stream": self._stream, **_EXTRA}
        checks: dict[str, dict[str, Any]] = {}
        pool = ThreadPoolExecutor(max_workers=len(probes))
        try:
            futures = {name: pool.submit(self._timed, fn) for name, fn in probes.items()}
            wait(futures.values(), timeout=PROBE_TIMEOUT_SECONDS)
            for name, future in futures.items():
                if future.done():
                    checks[name] = future.result()
                else:
                    checks[name] = {"status": "down", "error": f"no answer within {PROBE_TIMEOUT_SECONDS:g} s",
                                    "ms": round(PROBE_TIMEOUT_SECONDS * 1000)}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        work = (checks.get("sqs", {}).get("queues") or {}).get("work")
        checks["workers"] = self._timed(lambda: self._workers(work["visible"] if work else None))
        overall = max((c["status"] for c in checks.values()), key=lambda s: ORDER.get(s, 2))
        return {"status": overall, "version": version, "stage": self.stage,
                "uptime_s": round(self.clock() - STARTED, 1), "checks": checks,
                "ms": round((time.perf_counter() - began) * 1000, 1)}

    @staticmethod
    def _timed(fn: Probe) -> dict[str, Any]:
        began = time.perf_counter()
        try:
            out = dict(fn())
        except Exception as exc:  # noqa: BLE001 - a failing dependency is what this reports
            out = {"status": "down", "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
        out.setdefault("status", "ok")
        out["ms"] = round((time.perf_counter() - began) * 1000, 1)
        return out
