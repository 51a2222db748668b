"""A transfer wired to in-memory fakes (tests/fakes/): the worker's logic driven message by
message, without any emulator."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters.urlguard import UrlGuard
from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.planning import MiB
from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.downloads.schemas import AddDownload
from chalicelib.downloads.service import DownloadService
from chalicelib.settings.store import EngineSettings
from chalicelib.transfer import Delivery, Transfer
from tests.fakes.adapters import FakeFile, FakeObjectStore, FakeOrigin, FakeQueue
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeActivity, FakeEngine, FakeHostSlots, FakeSettings
from tests.fakes.listing import FakeTaskPages
from tests.fakes.tasks import FakeTasks

PART = 5 * MiB  # S3's smallest part: what the plan uses under these settings


def body_of(size: int, seed: int = 7) -> bytes:
    block = bytes((i * seed + 13) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


@dataclass
class Rig:
    clock: ManualClock = field(default_factory=ManualClock)
    store: FakeObjectStore = field(default_factory=FakeObjectStore)
    queue: FakeQueue = field(default_factory=FakeQueue)
    origin: FakeOrigin = field(default_factory=FakeOrigin)
    settings: FakeSettings = field(
        default_factory=lambda: FakeSettings(EngineSettings(part_size=PART, parallel_parts=2))
    )

    def __post_init__(self) -> None:
        self.tasks = FakeTasks(self.clock)
        self.engine = FakeEngine(self.tasks)
        self.transfer = Transfer(self.tasks, self.store, self.queue, self.origin, self.settings, self.engine,
                                 hosts=FakeHostSlots(self.clock), rand=lambda: 0.0, clock=self.clock)

    def downloading(self, url: str, body: bytes, **file: Any) -> Task:
        """A task the dispatcher has just started (downloading, run 1), its file at ``url``."""
        self.origin.files[url] = FakeFile(body, **file)
        tid = str(uuid.uuid4())
        task = Task(id=tid, owner="alice", url=url, filename="file.bin", key=f"downloads/{tid}/file.bin",
                    state=TaskState.DOWNLOADING, run=1, created_at=self.clock.now_ms())
        self.tasks.create(task)
        return task

    def start(self, task: Task) -> None:
        self.transfer.handle(Delivery({"kind": "start", "task": task.id, "run": task.run}))

    def drain(self, limit: int = 100) -> int:
        """Handle every message sent (and those they send), first delivery each; how many."""
        handled = 0
        while self.queue.sent and handled < limit:
            for body in self.queue.take():
                self.transfer.handle(Delivery(body))
                handled += 1
        return handled

    def task(self, task_id: str) -> Task:
        found = self.tasks.get(task_id)
        assert found is not None
        return found


ALICE = Identity("alice", "alice", Role.USER)
BOB = Identity("bob", "bob", Role.USER)
VIEWER = Identity("vera", "vera", Role.VIEWER)


def _resolve(host: str, port: int) -> list[str]:
    """Names resolve to a public address (no DNS); an address literal is itself."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        return ["93.184.216.34"]


class DownloadsRig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.tasks = FakeTasks(self.clock)
        self.store = FakeObjectStore()
        self.engine = FakeEngine(self.tasks)
        self.activity = FakeActivity()
        # Every name resolves to a public address: no DNS, and the guard's rules still apply.
        guard = UrlGuard(False, resolve=_resolve)
        self.service = DownloadService(self.tasks, self.store, self.engine, FakeSettings(EngineSettings()), guard,
                                       self.activity, FakeTaskPages(self.tasks), clock=self.clock)

    def add(self, url: str = "https://files.example/a.iso", who: Identity = ALICE, **req: object) -> str:
        return self.service.add(who, AddDownload(url=url, **req)).id  # type: ignore[arg-type]
