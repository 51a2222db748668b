"""Many downloads at once: bulk actions on id lists, retry every failed one, clear finished
history, and reorder a list of queued downloads.

Each works through :class:`~chalicelib.downloads.service.DownloadService` (the same conditional writes
as the single-task routes), reads tasks by key (BatchGetItem) or from the by-owner-state
index (a Query, never a Scan), does the per-task work on a few threads, kicks the
dispatcher once at the end and records one activity entry for the whole request (each task's
own transition is in the log too, from the tasks table's stream, with the caller as actor).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..api.errors import ApiError, Conflict, Forbidden, NotFound
from ..auth.identity import Identity
from ..domain import ordering
from ..domain.states import Action, TaskState
from ..domain.task import Task
from .schemas import BulkRequest, ClearHistoryQuery
from .service import DownloadService

log = logging.getLogger("haul.bulk")
THREADS = 8
T = TypeVar("T")
R = TypeVar("R")


def _parallel(fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    items = list(items)
    if len(items) <= 1:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=min(THREADS, len(items))) as pool:
        return list(pool.map(fn, items))


def _owner(who: Identity, owner: str | None) -> str:
    if owner is not None and owner != who.user_id and not who.is_admin:
        raise Forbidden("only an admin acts on other users' downloads")
    return owner or who.user_id


def _names(ids: list[str], limit: int = 10) -> str:
    more = f" and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more


# -- bulk actions ----------------------------------------------------------------------------


def run(svc: DownloadService, who: Identity, req: BulkRequest) -> dict[str, Any]:
    """Apply one action to every id: per-item results (404 for a missing or foreign id, 409 for
    a state where the action makes no sense); the request fails only on bad input."""
    svc._writer(who)
    tasks = svc.repo.get_many(req.ids)

    def one(task_id: str) -> dict[str, Any]:
        task = tasks.get(task_id)
        try:
            if task is None or not who.sees(task.owner):
                raise NotFound(f"no download with id {task_id}")
            if req.action == "delete":
                svc.remove(who, task, req.delete_file, record=False)
                return {"id": task_id, "ok": True, "state": None, "error": None}
            moved = svc.apply_action(who, task, Action(req.action), record=False)
            return {"id": task_id, "ok": True, "state": moved.state.value, "error": None}
        except ApiError as exc:
            return {"id": task_id, "ok": False, "state": None, "error": {"code": exc.code, "message": exc.message}}
        except Exception:  # one item's failure must not hide what happened to the others
            log.exception("bulk %s of %s failed", req.action, task_id)
            return {"id": task_id, "ok": False, "state": None,
                    "error": {"code": "INTERNAL_ERROR", "message": "this item failed on our side; try it again"}}

    results = _parallel(one, req.ids)
    succeeded = sum(1 for r in results if r["ok"])
    if succeeded:
        svc.dispatcher.kick()
    svc.activity.record(
        owner=who.user_id, actor=who.username, kind=f"bulk.{req.action}",
        message=f"{req.action} of {len(req.ids)} download(s): {succeeded} done, {len(req.ids) - succeeded} refused",
        data={"requested": len(req.ids), "succeeded": succeeded, "ids": req.ids[:100],
              **({"delete_file": req.delete_file} if req.action == "delete" else {})},
    )
    return {
        "action": req.action,
        "requested": len(req.ids),
        "succeeded": succeeded,
        "failed": len(req.ids) - succeeded,
        "results": results,
    }


def retry_failed(svc: DownloadService, who: Identity, owner: str | None = None) -> dict[str, Any]:
    """Retry every failed download of the caller (an admin: of ``owner``, if given)."""
    svc._writer(who)
    target = _owner(who, owner)
    failed = svc.repo.in_state_of(target, TaskState.FAILED)

    def one(task: Task) -> str | None:
        try:
            return svc.apply_action(who, task, Action.RETRY, record=False).id
        except ApiError:
            return None  # retried, deleted or changed meanwhile

    ids = [i for i in _parallel(one, failed) if i is not None]
    if ids:
        svc.dispatcher.kick()
    svc.activity.record(
        owner=target, actor=who.username, kind="bulk.retry",
        message=f"retried every failed download: {len(ids)}", data={"count": len(ids), "ids": ids[:100]},
    )
    return {"count": len(ids), "ids": ids}


def clear_history(svc: DownloadService, who: Identity, query: ClearHistoryQuery) -> dict[str, Any]:
    """Delete the caller's (an admin: ``owner``'s) downloads in the given finished states."""
    svc._writer(who)
    target = _owner(who, query.owner)
    by_state: dict[str, int] = {}
    for state in query.states():
        tasks = svc.repo.in_state_of(target, state)

        def one(task: Task) -> bool:
            try:
                svc.remove(who, task, query.delete_files, record=False)
            except ApiError:
                return False
            return True

        by_state[state.value] = sum(1 for ok in _parallel(one, tasks) if ok)
    deleted = sum(by_state.values())
    svc.activity.record(
        owner=target, actor=who.username, kind="history.clear",
        message=f"cleared {deleted} finished download(s) ({', '.join(f'{k}: {v}' for k, v in by_state.items())})"
                + (" with their files" if query.delete_files else ""),
        data={"by_state": by_state, "files_deleted": query.delete_files},
    )
    return {"deleted": deleted, "by_state": by_state}


# -- reorder ---------------------------------------------------------------------------------

REORDERABLE = (TaskState.QUEUED, TaskState.PAUSED)


def reorder(svc: DownloadService, who: Identity, ids: list[str]) -> dict[str, Any]:
    """The given downloads take, in the given order, the queue positions they held between
    them (chalicelib/domain/ordering.py): at most one write each, nobody else renumbered.
    All queued or paused, else 409 naming the others and nothing changes."""
    svc._writer(who)
    tasks = svc.repo.get_many(ids)
    missing = [i for i in ids if i not in tasks or not who.sees(tasks[i].owner)]
    if missing:
        raise NotFound(f"no download with id {_names(missing)}")
    busy = [i for i in ids if tasks[i].state not in REORDERABLE]
    if busy:
        states = ", ".join(f"{i} is {tasks[i].state.value}" for i in busy[:10])
        raise Conflict(f"only queued or paused downloads can be reordered: {states}")
    current = [ordering.Position(t.id, t.priority, t.order) for t in tasks.values()]
    moves = ordering.permute(current, ids)

    def write(pos: ordering.Position) -> str | None:
        old = tasks[pos.id]
        done = svc.repo.place(old, pos.priority, pos.order, who.username)
        return None if done is not None else pos.id

    lost = [i for i in _parallel(write, moves) if i is not None]
    svc.activity.record(
        owner=who.user_id, actor=who.username, kind="queue.reorder",
        message=f"reordered {len(ids)} download(s) ({len(moves) - len(lost)} moved)",
        data={"ids": ids[:100], "moved": len(moves) - len(lost)},
    )
    if lost:
        raise Conflict(
            f"these downloads changed while the queue was being reordered, and kept their places: {_names(lost)}; "
            "the others were reordered"
        )
    svc.dispatcher.kick()
    return {"reordered": len(ids), "moved": len(moves), "ids": list(ids)}
