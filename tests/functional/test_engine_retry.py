"""Retries: 503 and 429 with Retry-After are retried no sooner than asked; a permanent error
fails at once, a lasting one after the retry limit, each with a reason a person can read."""

from __future__ import annotations

import math
import os
import time
from email.utils import formatdate, parsedate_to_datetime

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from tests.support.engine import OWNER, MiB, fetched_ranges, part_ranges, stored_sha256, wait_finished
from tests.support.origin import Resource

# Nothing left active by an earlier test may hold a download slot.
pytestmark = pytest.mark.usefixtures("settled")


def _waits_after_failures(requests: list[dict], status: int) -> list[float]:
    """For each request answered ``status``: seconds until the same request was sent again."""
    waits = []
    for i, failed in enumerate(requests):
        if failed["status"] != status:
            continue
        again = [r for r in requests[i + 1 :] if r["headers"].get("Range") == failed["headers"].get("Range")]
        assert again, f"the {status} answer to {failed['headers'].get('Range')} was never retried"
        waits.append(again[0]["time"] - failed["time"])
    return waits


def test_429_with_retry_after_on_the_probe_is_honoured(svc, workers, origin) -> None:
    data = os.urandom(2 * MiB)
    res = origin.add("/busy.bin", Resource(data=data, fail_status=429, failures=1, retry_after="1"))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/busy.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert res.requests[0]["status"] == 429
    waits = _waits_after_failures(res.requests, 429)
    assert len(waits) == 1 and waits[0] >= 1.0, waits


def test_503_with_retry_after_mid_transfer_is_honoured(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 3})
    data = os.urandom(3 * 5 * MiB - 1)
    # The probe goes through; the next two (ranged) requests are answered 503.
    res = origin.add("/busy.bin", Resource(data=data, fail_status=503, failures=2, fail_after=1, retry_after="1"))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/busy.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    waits = _waits_after_failures(res.requests, 503)
    assert len(waits) == 2 and min(waits) >= 1.0, waits
    assert fetched_ranges(res.requests) == part_ranges(len(data), 5 * MiB)


def test_retry_after_as_an_http_date_is_honoured_to_the_second(svc, workers, origin) -> None:
    # An HTTP-date has whole seconds, and SQS delays by whole seconds: the wait must be
    # rounded up, never down, or the retry lands before the date the origin named.
    until = formatdate(math.ceil(time.time()) + 2, usegmt=True)
    res = origin.add("/busy.bin", Resource(data=os.urandom(MiB), fail_status=503, failures=1, retry_after=until))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/busy.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert [r["status"] for r in res.requests[:2]] == [503, 206]
    assert res.requests[1]["time"] >= parsedate_to_datetime(until).timestamp()


def test_permanent_404_fails_at_once_with_a_readable_reason(svc, workers, origin) -> None:
    res = origin.add("/gone.bin", Resource(data=b"x", fail_status=404, failures=100))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/gone.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.FAILED
    assert done.error == "the origin answered HTTP 404 Not Found"
    assert len(res.requests) == 1  # not retried


def test_lasting_503_fails_after_the_retry_limit_saying_how_many_attempts(svc, workers, origin) -> None:
    svc.settings.update(
        {"part_size": 5 * MiB, "parallel_parts": 1, "retry_max_attempts": 3,
         "retry_base_seconds": 0.1, "retry_cap_seconds": 0.1}
    )
    data = os.urandom(6 * MiB)
    res = origin.add("/down.bin", Resource(data=data, fail_status=503, failures=10_000, fail_after=1))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/down.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.FAILED
    assert done.error == "the origin answered HTTP 503 Service Unavailable after 3 attempts"
    assert [r["status"] for r in res.requests] == [206, 503, 503, 503]
