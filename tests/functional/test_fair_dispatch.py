"""Fair dispatch (issue #11, item 2): one user cannot hold every slot, free slots alternate
between users with queued work, a priority ranks only its owner's own queue, and a download
that crawls goes back to the queue when someone else waits."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

import pytest

from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from tests.support.engine import MiB, wait_until
from tests.support.origin import Resource

pytestmark = pytest.mark.usefixtures("settled")


def user(name: str) -> Identity:
    return Identity(f"{name}-{uuid.uuid4().hex[:6]}", name, Role.USER)


def req(url: str, **fields: Any) -> AddDownload:
    return AddDownload.model_validate({"url": url, **fields})


def states(svc: Any, ids: list[str]) -> list[TaskState]:
    return [svc.repo.get(i).state for i in ids]


def test_a_second_user_s_download_starts_within_one_dispatch(svc, workers, origin) -> None:
    """User A queues 5 throttled downloads at HIGH priority; user B adds one: B's starts at once."""
    svc.settings.update({"max_concurrent_downloads": 2})  # a share of max(1, 2 // 2) = 1 each
    origin.add("/slow.bin", Resource(data=os.urandom(4 * MiB), throttle_bps=512 * 1024))
    a, b = user("a"), user("b")
    mine = [svc.downloads.add(a, req(origin.url("/slow.bin"), priority="HIGH", allow_duplicate=True)).id
            for _ in range(5)]
    # Alone, A may use both slots: nobody else wants them.
    assert states(svc, mine).count(TaskState.DOWNLOADING) == 2
    theirs = svc.downloads.add(b, AddDownload(url=origin.url("/slow.bin"))).id
    # The add's own dispatch started it: one of A's went back to the queue (it resumes later
    # where it was), instead of B waiting for A's HIGH downloads to finish.
    assert svc.repo.get(theirs).state == TaskState.DOWNLOADING
    now = [svc.repo.get(i) for i in mine]
    assert [t.state for t in now].count(TaskState.DOWNLOADING) == 1
    sent_back = [t for t in now if t.note and "fair share" in t.note]
    assert len(sent_back) == 1 and sent_back[0].state == TaskState.QUEUED
    # And B's really transfers.
    wait_until(svc, theirs, lambda t: t.phase == "transferring", 30, "B's download to transfer")


def test_free_slots_alternate_between_users_and_priorities_rank_only_their_own_queue(svc) -> None:
    from chalicelib.domain.states import Action

    svc.settings.update({"max_concurrent_downloads": 4, "per_user_downloads": 3})
    a, b = user("a"), user("b")
    dead = "http://127.0.0.1:9/x"
    svc.dispatcher.control.stop("test")  # queue everything first, then dispatch once
    try:
        high = [svc.downloads.add(a, req(dead, priority="HIGH", allow_duplicate=True)).id
                for _ in range(4)]
        low = [svc.downloads.add(b, req(dead, priority="LOW", allow_duplicate=True)).id
               for _ in range(3)]
    finally:
        svc.dispatcher.control.start("test")
    # One kick, four slots: A and B alternate (A's HIGH does not take them all), A stops at 3.
    svc.dispatcher.kick()
    running = {i for i in high + low if svc.repo.get(i).state == TaskState.DOWNLOADING}
    assert len(running & set(high)) == 2 and len(running & set(low)) == 2
    # A's own order is kept within A's queue: the oldest of its HIGH ones went first.
    assert running & set(high) == set(high[:2])
    # A slot freed by B goes back to B (fewest running), not to A's HIGH ones.
    svc.downloads.act(b, sorted(running & set(low))[0], Action.CANCEL)
    assert svc.repo.get(low[2]).state == TaskState.DOWNLOADING
    assert [svc.repo.get(i).state for i in high[2:]] == [TaskState.QUEUED, TaskState.QUEUED]


def test_a_crawling_download_goes_back_to_the_queue_when_someone_else_waits(svc, workers, origin) -> None:
    # Progress (and so speed) is reported with every MiB read: 512 KiB/s reports every 2 s.
    svc.settings.update({"max_concurrent_downloads": 1, "min_speed": 8 * MiB, "min_speed_seconds": 5,
                         "part_size": 5 * MiB, "parallel_parts": 1})
    origin.add("/crawl.bin", Resource(data=os.urandom(30 * MiB), throttle_bps=512 * 1024))
    origin.add("/quick.bin", Resource(data=os.urandom(1024)))
    a, b = user("a"), user("b")
    slow = svc.downloads.add(a, AddDownload(url=origin.url("/crawl.bin"))).id
    wait_until(svc, slow, lambda t: t.slow_since is not None, 30, "the crawl to be noticed")
    quick = svc.downloads.add(b, AddDownload(url=origin.url("/quick.bin"))).id
    assert svc.repo.get(quick).state == TaskState.QUEUED  # the one slot is taken
    back = wait_until(svc, slow, lambda t: t.state == TaskState.QUEUED, 30, "the crawl to be sent back")
    assert back.note and back.note.startswith("back in the queue: slower than 8388608 bytes/s for 5 s")
    done = wait_until(svc, quick, lambda t: t.state == TaskState.COMPLETED, 30, "B's download to finish")
    assert done.state == TaskState.COMPLETED
    # With nobody waiting any more, the crawl runs again.
    wait_until(svc, slow, lambda t: t.state == TaskState.DOWNLOADING, 30, "the crawl to start again")


def test_a_user_is_forgotten_only_once_quiet_and_never_over_a_newer_note(svc) -> None:
    from chalicelib.persistence.waiting import FORGET_AFTER_MS

    waiting = svc.dispatcher.waiting
    old = int(time.time() * 1000) - FORGET_AFTER_MS - 1000
    waiting._set({"n:quiet": old, "n:racing": old, "n:recent": int(time.time() * 1000)})
    waiting.mark_served(["quiet"], at=5)
    seen = waiting.read()
    assert seen.noted["quiet"] == old and seen.served == {"quiet": 5}
    assert not waiting.forget("recent", seen.noted["recent"])  # noted within the last minute: kept
    waiting._set({"n:racing": old + 1})  # an add noted them again after the dispatcher's read
    assert not waiting.forget("racing", seen.noted["racing"])
    assert waiting.forget("quiet", seen.noted["quiet"])
    assert set(waiting.read().noted) == {"racing", "recent"} and waiting.read().served == {}
