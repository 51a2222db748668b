"""The batches table and a batch's tasks in memory (chalicelib/downloads/batches.py ``BatchStore``),
over the batch items and tasks of a :class:`~tests.fakes.tasks.FakeTasks`; page keys have
DynamoDB's shape, so the service's cursors round-trip as they do on the real store. Also
admission's store (chalicelib/downloads/admission/service.py ``AdmissionStore``) over the same tasks."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from chalicelib.api.errors import ApiError
from chalicelib.auth.identity import Identity
from chalicelib.domain.task import Task
from chalicelib.domain.urls import dedupe_key
from chalicelib.downloads.admission.plan import DUPLICATE_STATES
from chalicelib.downloads.admission.service import Admitted
from chalicelib.downloads.schemas import AddDownload
from chalicelib.downloads.service import DownloadService
from tests.fakes.tasks import FakeTasks


def _after(
    rows: list[tuple[str, Any]], start: dict[str, Any] | None, limit: int | None
) -> tuple[list[Any], str | None]:
    """Rows (sort key, value) sorted newest first, from after ``start``; up to ``limit``, and
    the sort key of the last one when more may follow."""
    rows = sorted(rows, key=lambda r: r[0], reverse=True)
    if start is not None:
        rows = [r for r in rows if r[0] < start["created_key"]["S"]]
    if limit is None or len(rows) <= limit:
        return [v for _, v in rows], None
    page = rows[:limit]
    return [v for _, v in page], page[-1][0]


class FakeBatches:
    def __init__(self, tasks: FakeTasks) -> None:
        self.store = tasks

    def item(self, batch_id: str) -> dict[str, Any] | None:
        found = self.store.batches.get(batch_id)
        return copy.deepcopy(found) if found is not None else None

    def page(
        self, owner: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        mine = [(i["created_key"], copy.deepcopy(i)) for i in self.store.batches.values() if i["owner"] == owner]
        items, last = _after(mine, start, limit)
        if last is None:
            return items, None
        return items, {"id": {"S": items[-1]["id"]}, "owner": {"S": owner}, "created_key": {"S": last}}

    def count(self, owner: str) -> int:
        return sum(1 for i in self.store.batches.values() if i["owner"] == owner)

    def tasks_of(self, batch_id: str, owner: str) -> list[Task]:
        return [r.task for r in self.store.rows.values() if r.task.batch_id == batch_id and r.task.owner == owner]

    def tasks(
        self, batch_id: str, owner: str, limit: int | None, start: dict[str, Any] | None
    ) -> tuple[list[Task], dict[str, Any] | None]:
        mine = [(f"{t.created_at:013d}#{t.id}", copy.deepcopy(t)) for t in self.tasks_of(batch_id, owner)]
        found, last = _after(mine, start, limit)
        if last is None:
            return found, None
        return found, {"id": {"S": found[-1].id}, "batch_id": {"S": batch_id}, "created_key": {"S": last}}

    def delete(self, batch_id: str) -> None:
        self.store.batches.pop(batch_id, None)


class FakeAdmission:
    """Adds a batch's items one by one through the downloads service (the real Admission writes
    them 25 to a request; the outcome per item is the same)."""

    def __init__(self, downloads: DownloadService) -> None:
        self.downloads = downloads

    def add_many(self, who: Identity, adds: Sequence[AddDownload], batch_id: str | None = None) -> list[Admitted]:
        out: list[Admitted] = []
        for add in adds:
            try:
                added = self.downloads.add(who, add)
            except ApiError as exc:
                out.append(Admitted(error=exc))
                continue
            out.append(Admitted(task=added, duplicate=added.duplicate))
        return out


class FakeAdmissionStore:
    """Admission's many-at-a-time task reads and writes (chalicelib/persistence/admission.py) over
    the in-memory tasks; ``fail`` names task ids whose write fails (and is not stored)."""

    def __init__(self, tasks: FakeTasks) -> None:
        self.tasks = tasks
        self.fail: set[str] = set()

    def create_tasks(self, tasks: Sequence[Task], actor: str | None) -> list[Exception | None]:
        out: list[Exception | None] = []
        for task in tasks:
            if task.id in self.fail:
                out.append(RuntimeError(f"injected failure storing {task.id}"))
                continue
            if self.tasks.get(task.id) is None:
                self.tasks.create(task, actor)
            out.append(None)
        return out

    def get_tasks(self, ids: Sequence[str], projection: str | None = None) -> dict[str, Task]:
        found = self.tasks.get_many(ids)
        if projection is None:
            return found
        return {i: Task(i, "", "", "", "") for i in found}

    def ids_by_url(self, keys: Sequence[str]) -> dict[str, list[str]]:
        return {key: self.tasks.ids_by_url(key, 50) for key in dict.fromkeys(keys)}

    def ids_of_owner(self, owner: str, keys: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for state in DUPLICATE_STATES:
            for task in self.tasks.in_state_of(owner, state):
                key = dedupe_key(owner, task.url)
                if key in keys:
                    found.setdefault(key, []).append(task.id)
        return found
