"""A lane's progress as it reads: in-part bytes and speed written at most once an interval,
and the per-thread part buffers the parts are read into."""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..domain.task import Task
from .context import Abandoned
from .ports import TaskStore


class Buffers(threading.local):
    buf: bytearray | None = None

    def get(self, size: int) -> memoryview:
        if self.buf is None or len(self.buf) < size:
            self.buf = None  # let the old one go before the new one is made
            self.buf = bytearray(size)
        return memoryview(self.buf)[:size]


BUFFERS = Buffers()


def progress_slot(lane: str, step: int) -> str:
    """The key of a part's in-flight bytes: a lane's consecutive parts overlap (one uploads
    while the next is fetched), so they alternate between two keys."""
    return lane if step % 2 else f"{lane}'"


class LaneProgress:
    """Writes a lane's in-part progress and speed, at most once per ``interval`` seconds."""

    def __init__(
        self, repo: TaskStore, task: Task, lane: str, interval: float,
        clock: Callable[[], float],
        on_flush: Callable[[Task], None] | None = None,
        slot: str | None = None,
    ) -> None:
        self._repo = repo
        self._task = task
        self._lane = lane
        # Where the in-part bytes go: a lane fetches its next part while the previous one is
        # still uploading, so the two parts count under two keys (see progress_slot).
        self._slot = slot or lane
        self._interval = interval
        self._clock = clock
        # Sees the task as each progress write left it (ALL_NEW, no extra read): the lane
        # adopts a changed speed limit from it, and renews its host slot.
        self._on_flush = on_flush
        self._part_bytes = 0
        self._window_bytes = 0
        self._window_start = clock()

    def new_part(self) -> None:
        self._part_bytes = 0

    def __call__(self, n: int) -> None:
        self._part_bytes += n
        self._window_bytes += n
        elapsed = self._clock() - self._window_start
        if elapsed >= self._interval:
            self.flush(int(self._window_bytes / elapsed))
            self._window_bytes = 0
            self._window_start = self._clock()

    def flush(self, speed: int) -> None:
        # Still this run's, or held by a queue stop: a stop lets the parts in flight finish
        # (and be recorded: record_part is fenced by generation, not run); a pause does not.
        moved = self._repo.lane_progress(self._task, self._lane, self._slot, self._part_bytes, speed)
        if moved is None:
            raise Abandoned()
        if self._on_flush is not None:
            self._on_flush(moved)
