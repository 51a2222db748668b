"""What every part of the transfer works with: the collaborators the composition root passes
to :class:`~chalicelib.transfer.service.Transfer`, and the limits of one worker."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from ..domain.clock import Clock
from ..domain.task import Task
from ..engine.hostslots import HostSlots
from .ports import Engine, ObjectStorage, Origin, Queue, Settings, TaskStore

# A Lambda function's longest invocation: a worker handed no deadline assumes this much.
INVOCATION_SECONDS = 900.0
# Under a speed limit, one part must be readable within this many seconds (a worker has 900).
PART_SECONDS = 600
# A lane that waits for a connection to its host tries again after 1 to this many seconds.
HOST_WAIT_SECONDS = 5
WAITING_NOTE = "waiting for a free connection to "


class Handoff(threading.local):
    """A started download a finishing worker keeps for itself (this thread's): ``open`` while
    the thread handles a work message (only then may a finish keep one), ``task`` the kept
    one, which :meth:`~chalicelib.transfer.service.Transfer.handle` runs next."""

    open: bool = False
    task: Task | None = None

    def take(self) -> Task | None:
        task, self.task = self.task, None
        return task


class Abandoned(Exception):
    """The task was paused, cancelled or re-dispatched while this worker was on it."""


@dataclass
class Context:
    repo: TaskStore
    store: ObjectStorage
    queue: Queue
    origin: Origin
    settings: Settings
    engine: Engine
    hosts: HostSlots
    clock: Clock
    rand: Callable[[], float]
    progress_interval: float
    # The key a starting download stores to, given the file name the probe found
    # (chalicelib/metadata/service.py: its metadata, folder and template, claimed unique).
    name_key: Callable[[Task, str], str]
    # A stored download renamed during its transfer: moves its object to the new key and
    # answers the task then (DownloadService.settle_target; the composition root sets it).
    on_stored: Callable[[Task], Task] = lambda task: task
    # A worker whose download finished starts the next one itself (issue #13): the round run
    # by the finish keeps one of its starts for this thread instead of sending its message.
    chain_starts: bool = False
    handoff: Handoff = field(default_factory=Handoff)

    def now_ms(self) -> int:
        return self.clock.now_ms()
