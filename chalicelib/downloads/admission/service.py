"""Many downloads added at once: checked side by side, deduplicated in few Queries, written in
chunks, and the dispatcher kicked once (POST /batches).

What each item costs is bounded whatever the number of items: the URL checks run on a small
pool (they resolve host names), duplicates are found with one by-url Query per distinct URL
or, when cheaper, one Query per state and page of the owner's tasks (``plan.scan_owner``),
the new tasks and their activity entries are written 25 to a request, and one kick starts
what can start. Every item gets an outcome: the task made, the existing download it
duplicates, or why it was refused; an item whose write failed is reported as not added only
after it was read back and found missing (``AdmissionStore.create_tasks``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from ...adapters.urlguard import BlockedUrl, UrlGuard
from ...api.errors import ApiError, Unavailable, field_error
from ...auth.identity import Identity
from ...domain.clock import SYSTEM_CLOCK, Clock
from ...domain.task import Task
from ...domain.urls import dedupe_key
from ...engine.dispatcher import WaitingList
from ..schemas import AddDownload
from . import plan

log = logging.getLogger("haul.admission")
_checks = ThreadPoolExecutor(16, thread_name_prefix="urlcheck")
NOT_STORED = "the download could not be stored, so it was not added; send it again"


class AdmissionStore(Protocol):
    """Tasks written and read many at a time (chalicelib/persistence/admission.py ``DynamoAdmissionStore``)."""

    def create_tasks(self, tasks: Sequence[Task], actor: str | None) -> list[Exception | None]:
        """Store new tasks; for each, None once it is stored (also when a failed request had
        stored it after all), else why not."""
        ...

    def get_tasks(self, ids: Sequence[str], projection: str | None = None) -> dict[str, Task]:
        """The tasks of ``ids`` that exist, read consistently (``projection="id"``: only which exist)."""
        ...

    def ids_by_url(self, keys: Sequence[str]) -> dict[str, list[str]]:
        """For each dedupe key, the ids of the newest tasks of that URL (at most 50), newest first."""
        ...

    def ids_of_owner(self, owner: str, keys: set[str]) -> dict[str, list[str]]:
        """For each of ``keys`` that has any, the ids of the owner's tasks of that URL in a
        duplicate state (queued, downloading, paused, completed)."""
        ...


class Kicker(Protocol):
    """The dispatcher as an admission sees it (chalicelib/engine/dispatcher.py ``Dispatcher``)."""

    @property
    def waiting(self) -> WaitingList: ...

    def request_kick(self) -> bool: ...


class ActivityEntries(Protocol):
    """The activity log's batch write (chalicelib/activity/log.py ``ActivityLog.record_many``)."""

    def record_many(self, entries: list[dict[str, Any]]) -> None: ...


@dataclass(frozen=True)
class Admitted:
    """One item's outcome: ``task`` made (or, with ``duplicate``, the existing download it
    duplicates), or ``error``."""

    task: Task | None = None
    duplicate: bool = False
    error: ApiError | None = None


class Admission:
    def __init__(
        self, store: AdmissionStore, dispatcher: Kicker, guard: UrlGuard, activity: ActivityEntries,
        gauge: Callable[[str], dict[str, int]] | None = None,
        name: Callable[[str, str, AddDownload], str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``gauge``: an owner scope's tasks per state (StatsStore.recent_gauge), to choose the
        cheaper duplicate lookup; without it, one Query per URL. ``name``: a new task's
        planned key (chalicelib/metadata/service.py)."""
        self._name = name
        self._store = store
        self._dispatcher = dispatcher
        self._guard = guard
        self._activity = activity
        self._gauge = gauge
        self._clock = clock

    def add_many(self, who: Identity, adds: Sequence[AddDownload], batch_id: str | None = None) -> list[Admitted]:
        """Add every item of ``adds`` (already validated) for ``who``, in order; an outcome each."""
        outcomes: list[Admitted | None] = [None] * len(adds)
        for i, refused in enumerate(self._check_urls([a.url for a in adds])):
            if refused is not None:
                outcomes[i] = Admitted(error=refused)
        wanted = [i for i in range(len(adds)) if outcomes[i] is None]
        existing = self._duplicates(who.user_id, [adds[i] for i in wanted if not adds[i].allow_duplicate])
        created = self._clock.now_ms()
        fresh: list[tuple[int, Task]] = []
        first_of: dict[str, Task] = {}  # within this request, the first new task of each URL
        for seq, i in enumerate(wanted):
            add = adds[i]
            key = dedupe_key(who.user_id, add.url)
            earlier = None if add.allow_duplicate else existing.get(key) or first_of.get(key)
            if earlier is not None:
                outcomes[i] = Admitted(task=earlier, duplicate=True)
                continue
            task = plan.new_task(who.user_id, add, str(uuid.uuid4()), created, seq, batch_id, self._name)
            first_of.setdefault(key, task)
            fresh.append((i, task))
        errors = self._store.create_tasks([t for _, t in fresh], who.username)
        lost: set[str] = set()
        for (i, task), error in zip(fresh, errors, strict=True):
            if error is None:
                outcomes[i] = Admitted(task=task)
            else:
                log.error("task %s (%s) could not be stored: %s", task.id, task.url, error)
                lost.add(task.id)
                outcomes[i] = Admitted(error=Unavailable(NOT_STORED))
        done: list[Admitted] = []
        for outcome in outcomes:
            assert outcome is not None
            # A duplicate, within this request, of a task that could not be stored was not added either.
            lost_too = outcome.duplicate and outcome.task is not None and outcome.task.id in lost
            done.append(Admitted(error=Unavailable(NOT_STORED)) if lost_too else outcome)
        self._record(who, done)
        if any(o.task is not None and not o.duplicate for o in done):
            try:
                self._dispatcher.waiting.note(who.user_id)  # the fair dispatcher's list of who waits
                self._dispatcher.request_kick()
            except Exception:
                log.exception("the dispatcher could not be kicked after an admission")
        return done

    def _check_urls(self, urls: list[str]) -> list[ApiError | None]:
        """The URL guard's verdict on each URL; side by side when it resolves host names."""

        def one(url: str) -> ApiError | None:
            try:
                self._guard.check(url)
            except BlockedUrl as exc:
                return field_error("url", str(exc))
            return None

        unique = list(dict.fromkeys(urls))
        if not self._guard.pins or len(unique) == 1:  # nothing to resolve: no pool
            verdicts = dict(zip(unique, map(one, unique), strict=True))
        else:
            verdicts = dict(zip(unique, _checks.map(one, unique), strict=True))
        return [verdicts[u] for u in urls]

    def _duplicates(self, owner: str, adds: Sequence[AddDownload]) -> dict[str, Task]:
        """For each URL of ``adds`` the owner already has queued, downloading, paused or
        completed, the newest such download (by dedupe key)."""
        keys = list(dict.fromkeys(dedupe_key(owner, a.url) for a in adds))
        if not keys:
            return {}
        counts = None
        if self._gauge is not None and len(keys) > len(plan.DUPLICATE_STATES):
            try:
                counts = self._gauge(f"u#{owner}")
            except Exception:
                log.exception("could not read the owner's task counts")
        if plan.scan_owner(len(keys), counts):
            ids = self._store.ids_of_owner(owner, set(keys))
        else:
            ids = self._store.ids_by_url(keys)
        tasks = self._store.get_tasks([i for found in ids.values() for i in found])
        out: dict[str, Task] = {}
        for key, found in ids.items():
            best = plan.newest_duplicate(owner, (tasks[i] for i in found if i in tasks))
            if best is not None:
                out[key] = best
        return out

    def _record(self, who: Identity, outcomes: list[Admitted]) -> None:
        entries = []
        for o in outcomes:
            if o.task is None:
                continue
            t = o.task
            if o.duplicate:
                entries.append({"owner": t.owner, "actor": who.username, "kind": "task.duplicate",
                                "message": f"{t.url} is already {t.state.value} as {t.id}; nothing added",
                                "task_id": t.id, "batch_id": t.batch_id})
            else:
                entries.append({"owner": t.owner, "actor": who.username, "kind": "task.add",
                                "message": f"added {t.url}", "task_id": t.id, "batch_id": t.batch_id})
        if entries:
            self._activity.record_many(entries)
