"""The emulator's freezer (local_runtime/emulator/server.py): what survives while requests keep
writing is frozen within about a second, and cyclic garbage frozen meanwhile is still freed by
the periodic full pass."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from local_runtime.emulator import server as emulator
from tests.support.wait import wait_for


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture()
def written() -> Iterator[list[int]]:
    """A freezer of the test's own, quick, watching a write count of its own (the session's
    emulator runs one too, at its own pace, on the writes of every other test)."""
    count = [0]
    stop = threading.Event()
    thread = threading.Thread(target=emulator._freezer, args=(stop, count, 0.1, 0.6), daemon=True)
    thread.start()
    try:
        yield count
    finally:
        stop.set()
        thread.join(5)


def _frozen(obj: object) -> bool:
    """Whether ``obj`` is in the permanent generation (gc.get_objects lists every other)."""
    return not any(o is obj for o in gc.get_objects())


def test_survivors_of_a_few_writes_are_frozen_within_a_second(written: list[int]) -> None:
    kept = [_Node() for _ in range(1000)]
    written[0] += 1  # one write, far below the 1,000 that trigger a full collection
    # (a full pass unfreezes for a moment, so "frozen" is waited for, not sampled once)
    wait_for(lambda: written[0] == 0 and _frozen(kept[0]) and _frozen(kept[-1]), 5, 0.05,
             "the freezer to freeze what survived one write")


def test_cyclic_garbage_frozen_meanwhile_is_freed_by_the_full_pass(written: list[int]) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the cyclic GC can free it
    gone = weakref.ref(a)
    written[0] += 1
    wait_for(lambda: written[0] == 0 and _frozen(gone()), 5, 0.05, "the cycle to be frozen")
    del a, b  # garbage now, but frozen: the young collections never look at it

    def freed() -> bool:
        written[0] += 1  # activity, so the full pass comes due
        return gone() is None

    wait_for(freed, 10, 0.1, "the full pass to free a frozen cycle")
