"""Batches: many downloads added in one request, then summarised and acted on together.

A batch is an item of the batches table (chalicelib/persistence/batches.py). Its summary
counters (tasks per state, bytes known and stored) are kept by the stream handler
(chalicelib/stats/store.py) as the batch's tasks change; its tasks are a Query on the tasks
table's by-batch index. A batch's items are added together (chalicelib/downloads/admission: URL checks
side by side, duplicates in few Queries, tasks written 25 to a request, one dispatcher kick),
and checked and deduplicated as single downloads are.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import Field, field_validator

from ..api.errors import ApiError, Conflict, Forbidden, Internal, NotFound, Unavailable, ValidationFailed, field_error
from ..api.schemas import _Strict, parse
from ..auth.identity import Identity, Role
from ..domain import aggregates as agg
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.states import Action, TaskState
from ..domain.task import Task, iso
from ..persistence import cursors
from ..stats.store import BATCH_STATE_PREFIX
from ..transfer.ports import ActivityRecorder, TaskStore
from .admission.service import Admitted
from .schemas import AddDownload, Priority
from .service import DownloadService

log = logging.getLogger("haul.batches")
_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")
MAX_ITEMS = 500
# Per-item options a batch's ``defaults`` may set for every item.
DEFAULTABLE = ("priority", "headers", "checksum", "category", "tags", "speed_limit", "allow_duplicate")
_pool = ThreadPoolExecutor(8, thread_name_prefix="batches")


# -- requests ----------------------------------------------------------------------------------


class BatchDefaults(_Strict):
    """Options every item of a batch gets unless it sets its own."""

    priority: Priority | None = None
    headers: dict[str, str] | None = None
    checksum: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=20)
    speed_limit: int | None = Field(default=None, ge=0)
    allow_duplicate: bool | None = None


class BatchItem(BatchDefaults):
    """One download of a batch (the options of POST /downloads, without batch_id/batch_name)."""

    url: str = Field(min_length=1, max_length=2048)
    filename: str | None = Field(default=None, max_length=1024)


class CreateBatch(_Strict):
    """The body of POST /batches (the OpenAPI document's view: items are checked one by one)."""

    name: str | None = Field(default=None, max_length=200)
    items: list[BatchItem] = Field(min_length=1, max_length=MAX_ITEMS)
    defaults: BatchDefaults | None = None


class _CreateBatchRaw(_Strict):
    name: str | None = Field(default=None, max_length=200)
    items: list[Any] = Field(min_length=1, max_length=MAX_ITEMS)
    defaults: dict[str, Any] | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must not contain control characters")
        return value or None

    @field_validator("defaults")
    @classmethod
    def _defaults(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for key in value or {}:
            if key not in DEFAULTABLE:
                raise ValueError(f"{key!r} cannot be a default (one of: {', '.join(DEFAULTABLE)})")
        return value


class BatchListQuery(_Strict):
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=50, ge=1, le=200)
    cursor: str | None = Field(default=None, max_length=2048)
    owner: str | None = Field(default=None, min_length=1, max_length=64)


class BatchTasksQuery(_Strict):
    per_page: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=2048)


class DeleteBatchQuery(_Strict):
    delete_files: bool = False


# -- summaries ---------------------------------------------------------------------------------


def summary(item: dict[str, Any]) -> dict[str, Any]:
    """A batch as the API shows it, from its (plain) item."""
    by_state = {s.value: max(0, int(item.get(BATCH_STATE_PREFIX + s.value) or 0)) for s in TaskState}
    total_bytes = max(0, int(item.get("total_bytes") or 0))
    done = max(0, int(item.get("done_bytes") or 0))
    done = min(done, total_bytes) if total_bytes else done
    return {
        "id": str(item["id"]),
        "name": item.get("name"),
        "owner": str(item.get("owner") or ""),
        "created_at": iso(int(item.get("created_at") or 0) or None),
        "updated_at": iso(int(item.get("updated_at") or 0) or None),
        "items": sum(by_state.values()),
        "completed": by_state["completed"],
        "failed": by_state["failed"],
        "cancelled": by_state["cancelled"],
        "active": by_state["queued"] + by_state["downloading"] + by_state["paused"],
        "by_state": by_state,
        "progress": agg.batch_progress(by_state, int(item.get("sized") or 0), total_bytes, done),
        "total_bytes": total_bytes,
        "downloaded_bytes": done,
        "state": agg.batch_state(by_state),
    }


def _encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return cursors.pack(key)


def _decode(cursor: str, fields: set[str], hash_name: str, hash_value: str) -> dict[str, Any]:
    try:
        key = cursors.unpack(cursor)
    except (ValueError, TypeError):
        raise field_error("cursor", "is not a cursor this API issued for this list") from None
    ok = (
        isinstance(key, dict) and set(key) == fields
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
        and key[hash_name]["S"] == hash_value
    )
    if not ok:
        raise field_error("cursor", "is not a cursor this API issued for this list")
    return key


def _error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, ApiError):
        return {"code": exc.code, "message": exc.message, "details": exc.details}
    log.exception("a batch item failed unexpectedly")
    return {"code": "INTERNAL_ERROR", "message": "something went wrong on our side", "details": []}


# action -> the states of the tasks it applies to, and the task action it performs
_BATCH_ACTIONS: dict[str, tuple[frozenset[TaskState], Action | None]] = {
    "pause": (frozenset({TaskState.QUEUED, TaskState.DOWNLOADING}), Action.PAUSE),
    "resume": (frozenset({TaskState.PAUSED}), Action.RESUME),
    "retry-failed": (frozenset({TaskState.FAILED}), Action.RETRY),
    "delete": (frozenset(TaskState), None),
}


def _items(req: _CreateBatchRaw, batch_id: str) -> tuple[list[tuple[int, AddDownload]], dict[int, ApiError]]:
    """The batch's items as downloads to add (the defaults under each), by index; the items
    refused as they are, by index."""
    defaults = {k: v for k, v in (req.defaults or {}).items() if v is not None}
    errors: dict[int, ApiError] = {}
    adds: list[tuple[int, AddDownload]] = []
    for index, raw in enumerate(req.items):
        try:
            if not isinstance(raw, dict):
                raise field_error("body", "must be an object")
            for key in ("batch_id", "batch_name"):
                if key in raw:
                    raise field_error(key, "is set by the batch")
            adds.append((index, parse(AddDownload, {**defaults, **raw, "batch_id": batch_id, "batch_name": req.name})))
        except ApiError as exc:
            errors[index] = exc
    return adds, errors


@dataclass
class _Made:
    """What adding a batch's items came to: an outcome per item, the tasks (new or duplicates),
    the new ones, and each refusal's details under ``items.<index>``."""

    results: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[Task] = field(default_factory=list)
    new: list[Task] = field(default_factory=list)
    details: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def of(cls, count: int, outcomes: dict[int, Admitted], errors: dict[int, ApiError]) -> _Made:
        made = cls()
        for index in range(count):
            outcome: dict[str, Any] = {"index": index, "ok": False, "task_id": None, "duplicate": False, "error": None}
            got = outcomes.get(index)
            error = errors.get(index) or (got.error if got is not None else None)
            made.results.append(outcome)
            if got is None or got.task is None:
                outcome["error"] = _error(error or Internal("not added"))
                for d in outcome["error"]["details"] or [{"field": "body", "message": outcome["error"]["message"]}]:
                    made.details.append({"field": f"items.{index}.{d['field']}", "message": d["message"]})
                continue
            outcome.update(ok=True, task_id=got.task.id, duplicate=got.duplicate)
            made.tasks.append(got.task)
            if not got.duplicate:
                made.new.append(got.task)
        return made


class BatchStore(Protocol):
    """The batches and their tasks (chalicelib/persistence/batches.py ``DynamoBatches``)."""

    def item(self, batch_id: str) -> dict[str, Any] | None: ...
    def page(
        self, owner: str, limit: int, start: dict[str, Any] | None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...
    def count(self, owner: str) -> int: ...
    def tasks(
        self, batch_id: str, owner: str, limit: int | None, start: dict[str, Any] | None
    ) -> tuple[list[Task], dict[str, Any] | None]: ...
    def delete(self, batch_id: str) -> None: ...


class Admitter(Protocol):
    """Adds many downloads together (chalicelib/downloads/admission/service.py ``Admission``)."""

    def add_many(self, who: Identity, adds: Sequence[AddDownload], batch_id: str | None = None) -> list[Admitted]: ...


class BatchService:
    def __init__(
        self, batches: BatchStore, repo: TaskStore, downloads: DownloadService, activity: ActivityRecorder,
        admission: Admitter, clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self._batches = batches
        self._admission = admission
        self._repo = repo
        self._downloads = downloads
        self._activity = activity
        self._clock = clock

    # -- create ----------------------------------------------------------------------------
    def create(self, who: Identity, body: Any) -> dict[str, Any]:
        """Make the batch, then add its items together (chalicelib/downloads/admission): each is checked
        and deduplicated as a single download is, and fails on its own."""
        if not who.at_least(Role.USER):
            raise Forbidden(f"a {who.role.value} may read downloads but not change them")
        req: _CreateBatchRaw = parse(_CreateBatchRaw, body)
        batch_id = str(uuid.uuid4())
        created = self._clock.now_ms()
        # The batch's item, with its owner, exists before any of its tasks (the ownership check
        # every path into a batch goes through; a fresh id is always free).
        if not self._repo.claim_batch(batch_id, who.user_id, req.name):
            raise Conflict(f"batch_id {batch_id} is taken; send the request again")
        adds, errors = _items(req, batch_id)
        admitted = iter(self._admission.add_many(who, [a for _, a in adds], batch_id) if adds else [])
        outcomes = {index: next(admitted) for index, _ in adds}
        made = _Made.of(len(req.items), outcomes, errors)
        if not made.tasks:
            self._batches.delete(batch_id)
            if any(isinstance(e, Unavailable) for e in (o.error for o in outcomes.values())):
                raise Unavailable("no item of the batch could be stored; nothing was added", made.details)
            raise ValidationFailed("no item of the batch could be added", made.details)
        failed = sum(1 for r in made.results if not r["ok"])
        duplicates = sum(1 for r in made.results if r["duplicate"])
        self._activity.record(
            owner=who.user_id, actor=who.username, kind="batch.create", batch_id=batch_id,
            message=f"batch {req.name or batch_id}: {len(made.new)} download(s) added"
                    + (f", {duplicates} duplicate(s)" if duplicates else "")
                    + (f", {failed} item(s) refused" if failed else ""),
            data={"items": len(req.items), "added": len(made.new), "duplicates": duplicates, "failed": failed},
        )
        # The stored counters follow the stream; the answer counts the tasks just made.
        item: dict[str, Any] = {"id": batch_id, "name": req.name, "owner": who.user_id, "created_at": created,
                                "updated_at": created, "sized": 0, "total_bytes": 0, "done_bytes": 0}
        for task in made.new:
            item[BATCH_STATE_PREFIX + task.state.value] = item.get(BATCH_STATE_PREFIX + task.state.value, 0) + 1
            if task.size is not None:
                item["sized"] += 1
                item["total_bytes"] += task.size
        return {"batch": summary(item), "tasks": [t.view() for t in made.tasks], "results": made.results}

    # -- read ------------------------------------------------------------------------------
    def _item(self, batch_id: str) -> dict[str, Any] | None:
        if not _ID.match(batch_id):
            return None
        return self._batches.item(batch_id)

    def get(self, who: Identity, batch_id: str) -> dict[str, Any]:
        """The batch's (plain) item, if ``who`` may see it; another user's is a 404."""
        item = self._item(batch_id)
        if item is None or not item.get("owner") or not who.sees(str(item["owner"])):
            raise NotFound(f"no batch with id {batch_id}")
        return item

    def summary(self, who: Identity, batch_id: str) -> dict[str, Any]:
        return summary(self.get(who, batch_id))

    def _owner(self, who: Identity, owner: str | None) -> str:
        if owner is not None and owner != who.user_id and not who.is_admin:
            raise Forbidden("only an admin lists other users' batches")
        return owner or who.user_id

    def _page(self, owner: str, limit: int, start: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
        items, last = self._batches.page(owner, limit, start)
        return [summary(i) for i in items], _encode(last)

    def page(self, who: Identity, q: BatchListQuery) -> tuple[list[dict[str, Any]], int, str | None]:
        """One page of an owner's batches, newest first; the total; the next page's cursor."""
        owner = self._owner(who, q.owner)
        if q.cursor:
            start = _decode(q.cursor, {"id", "owner", "created_key"}, "owner", owner)
            items, cursor = self._page(owner, q.per_page, start)
        else:
            items, cursor, page = [], None, 0
            while page < q.page:
                items, cursor = self._page(owner, q.per_page, _decode(cursor, {"id", "owner", "created_key"},
                                                                       "owner", owner) if cursor else None)
                page += 1
                if cursor is None:
                    break
            if page < q.page:
                items = []
        return items, self._batches.count(owner), cursor

    def tasks(self, batch_id: str, owner: str, limit: int, cursor: str | None) -> tuple[list[Task], str | None]:
        """One page of the batch's tasks that ``owner`` (the batch's owner) owns, newest first.

        A task of another owner can carry the id (one left from before a batch's deletion
        freed its id for someone else): the batch never shows it."""
        start = _decode(cursor, {"id", "batch_id", "created_key"}, "batch_id", batch_id) if cursor else None
        tasks, last = self._batches.tasks(batch_id, owner, limit, start)
        return tasks, _encode(last)

    def detail(self, who: Identity, batch_id: str, q: BatchTasksQuery) -> dict[str, Any]:
        item = self.get(who, batch_id)
        tasks, cursor = self.tasks(batch_id, str(item["owner"]), q.per_page, q.cursor)
        return {"batch": summary(item), "tasks": [t.view() for t in tasks], "next_cursor": cursor}

    def _all_tasks(self, batch_id: str, owner: str) -> list[Task]:
        """Every task of the batch that its owner owns (see :meth:`tasks`)."""
        return self._batches.tasks(batch_id, owner, None, None)[0]

    # -- act -------------------------------------------------------------------------------
    def act(self, who: Identity, batch_id: str, action: str, delete_files: bool = False) -> dict[str, Any]:
        """Pause, resume, retry the failed tasks of, or delete a batch: one outcome per task;
        a task in a state where the action makes no sense is skipped, not an error."""
        if not who.at_least(Role.USER):
            raise Forbidden(f"a {who.role.value} may read downloads but not change them")
        item = self.get(who, batch_id)
        states, task_action = _BATCH_ACTIONS[action]
        tasks = self._all_tasks(batch_id, str(item["owner"]))

        def one(task: Task) -> dict[str, Any]:
            if task.owner != item["owner"]:  # never: _all_tasks filters; a second lock on the door
                return {"task_id": task.id, "outcome": "skipped", "message": "not a download of this batch"}
            if task.state not in states:
                return {"task_id": task.id, "outcome": "skipped", "message": f"the download is {task.state.value}"}
            try:
                # The batch's one activity entry stands for these (record=False); the stream
                # logs each transition.
                if task_action is None:
                    self._downloads.remove(who, task, delete_files, record=False)
                else:
                    self._downloads.apply_action(who, task, task_action, record=False)
            except (Conflict, NotFound) as exc:  # it moved (or went) meanwhile: nothing to do
                return {"task_id": task.id, "outcome": "skipped", "message": exc.message}
            except Exception as exc:  # noqa: BLE001 - reported per task; the others go on
                return {"task_id": task.id, "outcome": "failed", "message": _error(exc)["message"]}
            return {"task_id": task.id, "outcome": "done", "message": None}

        results = list(_pool.map(one, tasks))
        self._downloads.dispatcher.kick()
        if action == "delete":
            self._batches.delete(batch_id)
        affected = sum(1 for r in results if r["outcome"] == "done")
        skipped = sum(1 for r in results if r["outcome"] == "skipped")
        failed = sum(1 for r in results if r["outcome"] == "failed")
        self._activity.record(
            owner=str(item["owner"]), actor=who.username, kind=f"batch.{action}", batch_id=batch_id,
            message=f"batch {item.get('name') or batch_id}: {action} applied to {affected} download(s)"
                    + (f", {skipped} skipped" if skipped else "") + (f", {failed} failed" if failed else ""),
            level="warning" if failed else "info",
            data={"affected": affected, "skipped": skipped, "failed": failed,
                  **({"delete_files": delete_files} if action == "delete" else {})},
        )
        return {"batch_id": batch_id, "action": action, "affected": affected, "skipped": skipped,
                "failed": failed, "results": results}


