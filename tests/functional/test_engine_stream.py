"""Origins without Range support: the body is streamed once, in order, into parts; an
interrupted stream restarts from zero, and the task says so."""

from __future__ import annotations

import os
import time

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from tests.support.engine import OWNER, MiB, open_uploads, stored_sha256, wait_finished
from tests.support.origin import Resource
from tests.support.wait import wait_for

# Nothing left active by an earlier test may hold a download slot.
pytestmark = pytest.mark.usefixtures("settled")


def test_origin_without_ranges_is_streamed_in_order(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 4})
    data = os.urandom(2 * 5 * MiB + 4321)
    res = origin.add("/plain.bin", Resource(data=data, ranges=False))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/plain.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    assert done.resumable is False
    assert done.note and "does not serve byte ranges" in done.note and "restarts from zero" in done.note
    assert (done.part_count, done.parts_done, done.size) == (3, 3, len(data))
    assert all(r["status"] == 200 for r in res.requests)
    # The probe, then one request that reads the whole body in order.
    assert len(res.requests) == 2
    assert "Range" not in res.requests[1]["headers"]
    assert res.requests[1]["sent"] == len(data)
    assert open_uploads(svc, done.key) == []


def test_interrupted_stream_restarts_from_zero(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB})
    data = os.urandom(2 * 5 * MiB + 99)
    # The first cut lands on the probe (it is answered with the whole body), the second
    # breaks the stream after a part was already stored.
    res = origin.add("/plain.bin", Resource(data=data, ranges=False, cut_after=7 * MiB, cuts=2))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/plain.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    streams = [r for r in res.requests if "Range" not in r["headers"]]
    assert [r.get("cut_at") for r in streams] == [7 * MiB, None]
    assert streams[-1]["sent"] == len(data)  # the retry read the stream from byte 0
    assert done.gen == 2 and done.resumable is False and done.parts_done == 3
    assert open_uploads(svc, done.key) == []


# -- no endless task (issue #11, item 3) -------------------------------------------------------
# A worker whose invocations may run this long (Lambda's context says so; the stream keeps a
# tenth of it back): small, so that the tests' streams outlast one invocation.
INVOCATION = 4


@pytest.fixture()
def short_workers(svc):
    """The work queue's handler, with invocations of INVOCATION seconds."""
    import app as app_module
    from local_runtime.sqs_poller import SqsPoller, sqs_sources

    (source,) = [s for s in sqs_sources(app_module) if s.queue_name == svc.config.work_queue]
    poller = SqsPoller(svc.clients.sqs, source, 4, visibility_timeout=30, region=svc.config.region, wait_seconds=1,
                       timeout_seconds=INVOCATION)
    poller.start()
    yield poller
    poller.stop()


def test_an_origin_that_never_ends_its_body_fails_within_one_invocation(svc, short_workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB})
    res = origin.add("/endless", Resource(data=os.urandom(MiB + 7), ranges=False, send_length=False, endless=True,
                                          throttle_bps=4 * MiB))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/endless")))
    began = time.monotonic()
    done = wait_finished(svc, task.id, timeout=60)
    assert done.state == TaskState.FAILED, done
    assert time.monotonic() - began < 30
    assert done.error and "does not serve byte ranges" in done.error and "one invocation" in done.error
    assert "may never end" in done.error
    assert done.gen == 1 and done.restarts == 0  # failed, not started over
    # The worker hung up: the origin's body ended with the connection.
    stream = [r for r in res.requests if "Range" not in r["headers"]]
    wait_for(lambda: len(stream) == 1 and "end" in stream[0], 30, what="the endless body to be cut off")


def test_a_no_range_file_larger_than_one_invocation_moves_fails_with_a_reason(svc, short_workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB})
    # 16 MiB at 2 MiB/s: 8 s, twice what one invocation may stream.
    origin.add("/big-plain.bin", Resource(data=os.urandom(16 * MiB), ranges=False, throttle_bps=2 * MiB))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/big-plain.bin")))
    done = wait_finished(svc, task.id, timeout=60)
    assert done.state == TaskState.FAILED, done
    assert done.error and "does not serve byte ranges" in done.error and "one invocation" in done.error
    assert done.gen == 1 and done.restarts == 0


def test_a_stream_interrupted_again_and_again_fails_after_its_restarts(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "max_restarts": 2, "retry_base_seconds": 0.1,
                         "retry_cap_seconds": 0.1})
    # Every stream breaks after a part has been stored: each retry must start over from zero.
    res = origin.add("/flaky.bin", Resource(data=os.urandom(8 * MiB), ranges=False, cut_after=6 * MiB, cuts=1000))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/flaky.bin")))
    done = wait_finished(svc, task.id, timeout=90)
    assert done.state == TaskState.FAILED, done
    assert done.restarts == 2 and done.gen == 3
    assert done.error and done.error.startswith("the stream kept being interrupted")
    assert "gave up after starting over 2 times" in done.error
    assert len([r for r in res.requests if r.get("cut_at")]) <= 1 + 3 * 2  # the probe, 3 generations x 2 tries
