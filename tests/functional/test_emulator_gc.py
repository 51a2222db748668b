"""The emulator's freezer (local_runtime/emulator.py): what survives while requests keep
writing is frozen within about a second, and cyclic garbage frozen meanwhile is still freed by
the periodic full pass."""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Iterator

import pytest

from local_runtime import emulator
from tests.support.wait import wait_for


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture()
def freezer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(emulator, "_FREEZE_AFTER_SECONDS", 0.1)
    monkeypatch.setattr(emulator, "_UNFREEZE_SECONDS", 0.6)
    stop = threading.Event()
    thread = threading.Thread(target=emulator._freezer, args=(stop,), daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


def test_survivors_of_a_few_writes_are_frozen_within_a_second(freezer: None) -> None:
    kept = [_Node() for _ in range(1000)]
    before = gc.get_freeze_count()
    emulator._written[0] += 1  # one write, far below the 1,000 that trigger a full collection
    wait_for(lambda: emulator._written[0] == 0 and gc.get_freeze_count() > before, 5, 0.05,
             "the freezer to freeze what survived")
    assert kept


def test_cyclic_garbage_frozen_meanwhile_is_freed_by_the_full_pass(freezer: None) -> None:
    a, b = _Node(), _Node()
    a.other, b.other = b, a  # a cycle: only the cyclic GC can free it
    gone = weakref.ref(a)
    emulator._written[0] += 1
    wait_for(lambda: emulator._written[0] == 0, 5, 0.05, "a freeze")
    del a, b  # now garbage, possibly frozen: young collections skip it
    emulator._written[0] += 1  # activity, so the full pass is due

    def freed() -> bool:
        emulator._written[0] += 1
        return gone() is None

    wait_for(freed, 10, 0.1, "the full pass to free a frozen cycle")
