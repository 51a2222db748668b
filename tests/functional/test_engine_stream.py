"""Origins without Range support: the body is streamed once, in order, into parts; an
interrupted stream restarts from zero, and the task says so."""

from __future__ import annotations

import os

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.schemas import AddDownload
from tests.support.engine import OWNER, MiB, open_uploads, stored_sha256, wait_finished
from tests.support.origin import Resource

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
