"""Stopping, starting and pausing the whole queue, and the order the dispatcher starts things in,
with real transfers through the in-process workers."""

from __future__ import annotations

import os

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.engine.dispatcher import HELD
from chalicelib.persistence.models import ActivityModel
from chalicelib.persistence.repository import now_ms
from tests.support.engine import (
    OWNER,
    MiB,
    fetched_ranges,
    open_uploads,
    part_ranges,
    queue_counts,
    stored_sha256,
    wait_finished,
    wait_queue_idle,
    wait_until,
)
from tests.support.origin import Resource
from tests.support.wait import wait_for

# Nothing left active by an earlier test may hold a download slot.
pytestmark = pytest.mark.usefixtures("settled")


def test_stop_lets_parts_in_flight_land_and_fetches_nothing_new_until_start(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    size = 6 * 5 * MiB + 7
    res = origin.add("/slow.bin", Resource(data=os.urandom(size), throttle_bps=10 * MiB))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/slow.bin")))
    wait_until(svc, task.id, lambda t: t.parts_done >= 1, what="the first part")

    stopped = svc.queue_control.stop(OWNER)
    assert stopped.state(now_ms()) == "stopped" and stopped.changed_by == OWNER.username
    held = svc.repo.get(task.id)
    assert held is not None and held.state == TaskState.QUEUED
    assert (held.phase, held.note) == (HELD, "queue stopped")
    # Added while stopped: it waits too.
    other = origin.add("/other.bin", Resource(data=os.urandom(MiB)))
    waiting = svc.downloads.add(OWNER, AddDownload(url=origin.url("/other.bin")))
    assert waiting.state == TaskState.QUEUED and not waiting.duplicate

    wait_queue_idle(svc)  # the lanes' parts in flight have landed; no message is left to fetch more
    at_stop = svc.repo.get(task.id)
    assert at_stop is not None and at_stop.state == TaskState.QUEUED and at_stop.gen == held.gen
    have = sorted(int(p.number) for p in svc.repo.parts(task.id, at_stop.gen))
    assert 1 <= len(have) < 7, "the stop did not land mid-download"
    # Every part that was being fetched when the queue stopped was uploaded and recorded.
    assert fetched_ranges(res.requests) == part_ranges(size, 5 * MiB, have)
    assert queue_counts(svc) == (0, 0, 0)
    assert other.requests == []
    before = len(res.requests)

    started = svc.queue_control.start(OWNER)
    assert started.state(now_ms()) == "running"
    done = wait_finished(svc, task.id)
    assert done.state == TaskState.COMPLETED, done.error
    assert done.gen == at_stop.gen and done.restarts == 0 and done.note is None
    assert stored_sha256(svc, done.key) == res.sha256()
    missing = [n for n in range(1, 8) if n not in have]
    assert fetched_ranges(res.requests[before:]) == part_ranges(size, 5 * MiB, missing)
    assert open_uploads(svc, done.key) == []
    assert wait_finished(svc, waiting.id).state == TaskState.COMPLETED


def test_a_timed_pause_ends_by_itself(svc, workers, origin) -> None:
    res = origin.add("/later.bin", Resource(data=os.urandom(MiB)))
    until = now_ms() + 3000
    paused = svc.queue_control.pause(OWNER, until)
    assert paused.state(now_ms()) == "paused" and paused.paused_until == until
    assert queue_counts(svc)[2] == 1  # the delayed kick

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/later.bin")))
    assert task.state == TaskState.QUEUED
    assert svc.dispatcher.kick() == 0  # nothing starts while the pause lasts

    done = wait_finished(svc, task.id, timeout=30)  # no reconciler runs here: the kick message did it
    assert done.state == TaskState.COMPLETED, done.error
    assert done.started_at is not None and done.started_at >= until
    assert stored_sha256(svc, done.key) == res.sha256()
    status = svc.queue_control.status()
    assert status.state(now_ms()) == "running" and status.changed_by == "engine"
    resumed = [e for e in ActivityModel.query("system", scan_index_forward=False, limit=20) if e.kind == "queue.resume"]
    assert resumed and resumed[0].actor == "engine" and resumed[0].at >= until


def test_the_reconcilers_tick_ends_a_pause_that_is_over(svc) -> None:
    svc.queue_control.store.pause("someone", now_ms() - 1)  # as if the kick message were lost
    assert svc.queue_control.store.status().running is False
    svc.reconciler.run()
    status = svc.queue_control.store.status()
    assert status.running and status.paused_until is None and status.changed_by == "engine"


def test_only_one_of_many_kicks_ends_a_pause(svc) -> None:
    from concurrent.futures import ThreadPoolExecutor

    svc.queue_control.store.pause("someone", now_ms() - 1)
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(lambda _: svc.queue_control.store.resume_if_due(now_ms()), range(8)))
    assert won.count(True) == 1
    assert svc.queue_control.store.status().running


def test_the_dispatcher_honours_priority_then_order(svc, workers, origin) -> None:
    svc.settings.update({"max_concurrent_downloads": 1})
    svc.queue_control.stop(OWNER)  # nothing starts while the queue is being arranged
    for name in "abcde":
        origin.add(f"/{name}.bin", Resource(data=os.urandom(64 * 1024)))

    def add(name: str, priority: str = "NORMAL") -> str:
        return svc.downloads.add(
            OWNER, AddDownload.model_validate({"url": origin.url(f"/{name}.bin"), "priority": priority})
        ).id

    a, b, c, d, e = add("a"), add("b", "HIGH"), add("c"), add("d"), add("e")
    svc.downloads.move(OWNER, e, "top")  # the newest NORMAL one jumps the older ones
    from chalicelib.downloads import bulk

    assert bulk.reorder(svc.downloads, OWNER, [d, c])["moved"] == 2  # d takes c's place and c d's
    assert [svc.repo.get(i).state for i in (a, b, c, d, e)] == [TaskState.QUEUED] * 5

    svc.queue_control.start(OWNER)
    done = [wait_finished(svc, i) for i in (a, b, c, d, e)]
    assert {t.state for t in done} == {TaskState.COMPLETED}
    started = [t.id for t in sorted(done, key=lambda t: t.started_at or 0)]
    assert started == [b, e, a, d, c]


def test_stop_waits_for_the_dispatchers_lease(svc) -> None:
    """A kick holding the lease finishes before the stop sends running tasks back: nothing it
    started is left running."""
    from chalicelib.persistence.lease import LOCK_KEY
    from chalicelib.persistence.models import ControlModel

    ControlModel(LOCK_KEY, holder="someone", expires=now_ms() + 1500, dirty=False).save()
    began = now_ms()
    svc.queue_control.stop(OWNER)
    assert now_ms() - began >= 1000  # it waited for the lease to be free (here: to expire)
    wait_for(lambda: not list(ControlModel.query(LOCK_KEY)), 5, what="the lease to be let go")
