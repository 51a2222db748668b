"""What the REST API can do with downloads: the service layer behind the thin handlers."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields, replace
from typing import Any

from ..activity.log import ENGINE
from ..adapters.urlguard import BlockedUrl, UrlGuard
from ..api.errors import Conflict, Forbidden, NotFound, field_error
from ..auth.identity import Identity, Role
from ..domain import ordering
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.states import Action, InvalidTransition, TaskState, apply, sources
from ..domain.task import Task
from ..domain.urls import dedupe_key
from ..engine.retention import expiry
from ..metadata.guess import guess
from ..metadata.objectmeta import object_metadata
from ..metadata.service import KeyPlanner
from ..sidecars.layout import episode_nfo_key
from ..transfer.ports import (
    ActionChange,
    ActivityRecorder,
    Kicker,
    ObjectStorage,
    RenameFence,
    Settings,
    TaskEdit,
    TaskStore,
)
from . import listing
from .admission import plan
from .schemas import AddDownload, ListQuery, PatchDownload

log = logging.getLogger("haul.api")
# An add's activity entry is written here while its thread asks for the dispatcher's kick.
_after_create = ThreadPoolExecutor(4, thread_name_prefix="add-activity")
# Task ids are UUIDs; anything else names no download (and never reaches DynamoDB).
_TASK_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


# A URL already in one of these states (for the same user) is a duplicate: adding it again
# answers with that download. A failed or cancelled one is not (adding it again is a retry).
DUPLICATE_STATES = frozenset(plan.DUPLICATE_STATES)
# How many earlier tasks of one URL duplicate detection looks at (newest first).
_DUPLICATE_SCAN = 50
_TASK_FIELDS = [f.name for f in fields(Task)]


@dataclass
class AddedTask(Task):
    """What :meth:`DownloadService.add` returns: the task (a :class:`Task` in every way), and
    ``duplicate``: True when the URL was already queued, running, paused or completed for
    this user and this is that existing download (nothing was created)."""

    duplicate: bool = False

    @classmethod
    def of(cls, task: Task, duplicate: bool) -> AddedTask:
        return cls(**{name: getattr(task, name) for name in _TASK_FIELDS}, duplicate=duplicate)


class DownloadService:
    def __init__(
        self,
        repo: TaskStore,
        store: ObjectStorage,
        dispatcher: Kicker,
        settings: Settings,
        guard: UrlGuard,
        activity: ActivityRecorder,
        pages: listing.TaskPages,
        gauge: Callable[[str], dict[str, int]] | None = None,
        keys: KeyPlanner | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        """``pages``: reads the list's plans (chalicelib/persistence/listing.py). ``gauge``: tasks
        per state of a scope from the statistics counters (StatsStore.gauge); without it, list
        totals are counted with a Query. ``keys``: names downloads by their metadata, folder and
        template (chalicelib/metadata/); without it every file is ``downloads/<id>/<filename>``.
        Every collaborator is passed in (chalicelib/container.py builds them)."""
        self.keys = keys
        self.repo = repo
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.guard = guard
        self.activity = activity
        self.gauge = gauge
        self.pages = pages
        self.clock = clock

    @staticmethod
    def _writer(who: Identity) -> None:
        if not who.at_least(Role.USER):
            raise Forbidden(f"a {who.role.value} may read downloads but not change them")

    def add(self, who: Identity, req: AddDownload) -> AddedTask:
        """Add a download; or, unless ``req.allow_duplicate``, answer with the caller's existing
        download of the same URL (queued, downloading, paused or completed): then the result's
        ``duplicate`` is True and nothing was created."""
        self._writer(who)
        try:
            self.guard.check(req.url)
        except BlockedUrl as exc:
            raise field_error("url", str(exc)) from None
        batch_id = req.batch_id or (str(uuid.uuid4()) if req.batch_name else None)
        if batch_id is not None:
            self.claim_batch(who, batch_id, req.batch_name)
        if not req.allow_duplicate:
            existing = self.find_duplicate(who.user_id, req.url)
            if existing is not None:
                log.info("task %s: %s added again; answering with the existing download", existing.id, req.url)
                self.activity.record(
                    owner=existing.owner, actor=who.username, kind="task.duplicate",
                    message=f"{req.url} is already {existing.state.value} as {existing.id}; nothing added",
                    task_id=existing.id, batch_id=existing.batch_id,
                )
                return AddedTask.of(existing, duplicate=True)
        task_id = str(uuid.uuid4())
        created = self.clock.now_ms()
        task = plan.new_task(who.user_id, req, task_id, created, batch_id=batch_id, name=self.planned_key)
        self.repo.create(task, actor=who.username)
        log.info("task %s: added (queued) %s", task_id, req.url)
        # The activity entry and the kick need only the stored task, not each other: side by
        # side, the add answers after the slower of the two round trips instead of both.
        recorded = _after_create.submit(
            contextvars.copy_context().run, self.activity.record, owner=task.owner, actor=who.username, kind="task.add",
            message=f"added {req.url}", task_id=task.id, batch_id=task.batch_id,
        )
        try:
            ran_here = self.dispatcher.request_kick()
        finally:
            recorded.result()  # a failed entry fails the request, as it did in line
        if ran_here:  # the round ran here: it may have started the task
            return AddedTask.of(self.repo.get(task_id) or task, duplicate=False)
        return AddedTask.of(task, duplicate=False)

    def planned_key(self, task_id: str, filename: str, req: AddDownload) -> str:
        """A new download's key before its transfer claims it (chalicelib/metadata/naming.py)."""
        if self.keys is None:
            return f"downloads/{task_id}/{filename}"
        try:
            return self.keys.plan(task_id, filename, req.metadata, req.category, req.path, req.naming)
        except ValueError as exc:  # a category's template that no longer renders
            raise field_error("naming", str(exc)) from None

    def claim_batch(self, who: Identity, batch_id: str, name: str | None = None) -> None:
        """Let ``who`` add downloads to batch ``batch_id``: it is made now, owned by ``who``, if
        it does not exist; one of ``who``'s own is fine; anyone else's (an admin's request
        included: a batch holds its owner's downloads only) is a Conflict, and nothing is
        written. Call it before creating any task of the batch (once per request)."""
        if not self.repo.claim_batch(batch_id, who.user_id, name):
            raise Conflict(
                f"batch_id {batch_id} names a batch that is not yours; choose another id",
                [{"field": "batch_id", "message": "names a batch that is not yours"}],
            )

    def find_duplicate(self, owner: str, url: str) -> Task | None:
        """``owner``'s newest download of ``url`` (however spelt) that is queued, downloading,
        paused or completed: one Query on the by-url index (keys only), then a read per hit."""
        for task_id in self.repo.ids_by_url(dedupe_key(owner, url), _DUPLICATE_SCAN):
            task = self.repo.get(task_id)
            if task is not None and task.owner == owner and task.state in DUPLICATE_STATES:
                return task
        return None

    def get(self, who: Identity, task_id: str) -> Task:
        """The download, if ``who`` may see it; another user's is a 404, as a missing one is."""
        task = self.repo.get(task_id) if _TASK_ID.match(task_id) else None
        if task is None or not who.sees(task.owner):
            raise NotFound(f"no download with id {task_id}")
        return task

    def detail(self, who: Identity, task_id: str) -> dict[str, Any]:
        """The download as GET /downloads/{id} shows it: without metadata, with what guessit
        reads in its file name as ``guessed`` (a suggestion; nothing uses it)."""
        task = self.get(who, task_id)
        view = task.view()
        view["guessed"] = None if task.metadata else guess(task.filename) or None
        return view

    def list(self, who: Identity, query: ListQuery) -> listing.Page:
        """A page of the downloads list: filters, sort and pagination planned onto an index
        (chalicelib/downloads/listing.py); an admin without ``owner`` lists every owner's."""
        try:
            return listing.list_tasks(query, who.user_id, who.is_admin, self.pages, listing.state_counts(self.gauge))
        except listing.Refused as exc:
            raise Forbidden(str(exc)) from None
        except listing.BadCursor as exc:
            raise field_error("cursor", str(exc)) from None

    def patch(self, who: Identity, task_id: str, req: PatchDownload) -> Task:
        """Change priority, filename (until the transfer starts) and speed limit (any time:
        a running download's workers pick it up). ``speed_limit`` absent: unchanged; null:
        back to the settings' default."""
        self._writer(who)
        task = self.get(who, task_id)
        changed: dict[str, object] = {}
        if req.priority is not None:
            changed["priority"] = req.priority
        renamed = self._renamed(task, req)
        moved_from: str | None = None
        fence: RenameFence = None
        if renamed is not None:
            if renamed.key != task.key or renamed.metadata != task.metadata:
                if task.state == TaskState.COMPLETED:
                    moved_from = task.key
                    renamed = self._move_completed(task, renamed)
                    fence = "completed"
                elif (task.state == TaskState.DOWNLOADING and task.phase != "starting") or task.upload_id is not None:
                    # Being stored (or an upload is open): it goes on into its key, and its
                    # object moves to the new one once stored (settle_target).
                    target = renamed.key
                    if self.keys is not None and target != task.key:
                        target = self.keys.claim(target, task.id, renamed.replace)
                    renamed = replace(renamed, key=task.key, target=target)
                    fence = "transferring"
                else:  # not started, or starting: the start plans with the new key (it is fenced on it)
                    fence = "unstarted"
            changed.update(self._naming_changes(task, renamed))
        set_limit = "speed_limit" in req.model_fields_set
        if set_limit:
            changed["speed_limit"] = req.speed_limit
        if req.priority is None and renamed is None and not set_limit:
            return task
        edit = TaskEdit(who.username, req.priority, set_limit, req.speed_limit, renamed, fence)
        updated = self.repo.edit(task, edit)
        if updated is None:
            if moved_from is not None and renamed is not None and renamed.key != moved_from:
                self.store.delete(renamed.key)  # the copy; the original stays where it was
            raise Conflict("the download changed while it was being edited; try again")
        if moved_from is not None and renamed is not None:
            if renamed.key != moved_from:
                self.store.delete(moved_from)
                self._move_sidecar(moved_from, renamed.key)
            self.activity.record(
                owner=task.owner, actor=who.username, kind="task.rename",
                message=(f"moved the stored file from {moved_from} to {renamed.key} (server-side copy, then the "
                         "old object deleted)" if renamed.key != moved_from
                         else f"rewrote the stored file's metadata at {moved_from} (server-side copy onto itself)"),
                task_id=task.id, batch_id=task.batch_id, data={"from": moved_from, "to": renamed.key},
            )
        self.activity.record(
            owner=task.owner, actor=who.username, kind="task.patch",
            message=f"changed {', '.join(f'{k}={v}' for k, v in changed.items())}",
            task_id=task.id, batch_id=task.batch_id, data=changed,
        )
        if req.priority is not None:
            self.dispatcher.kick()
        return updated

    # -- naming (chalicelib/metadata/) -----------------------------------------------------------
    def _renamed(self, task: Task, req: PatchDownload) -> Task | None:
        """The task with the PATCH's filename, metadata, path and naming, and the key they give;
        None when the PATCH names none of them."""
        given = req.model_fields_set & {"filename", "metadata", "path", "naming", "replace"}
        if not given or (given == {"filename"} and req.filename is None):
            return None
        out = replace(
            task,
            filename=req.filename if req.filename is not None else task.filename,
            filename_locked=task.filename_locked or req.filename is not None,
            metadata=(req.metadata.stored() if req.metadata else None) if "metadata" in given else task.metadata,
            path=req.path if "path" in given else task.path,
            naming=req.naming if "naming" in given else task.naming,
            replace=req.replace if "replace" in given else task.replace,
        )
        if self.keys is None:
            return replace(out, key=f"downloads/{task.id}/{out.filename}")
        try:
            return replace(out, key=self.keys.of_task(out))
        except ValueError as exc:
            raise field_error("naming", str(exc)) from None

    @staticmethod
    @staticmethod
    def _naming_changes(old: Task, new: Task) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in ("filename", "metadata", "path", "naming", "key", "target"):
            if getattr(old, name) != getattr(new, name):
                out[name] = getattr(new, name)
        return out

    def settle_target(self, current: Task) -> Task:
        """A stored download that was renamed during its transfer (the engine calls this as it
        completes it): its object copied (server-side) to the new key with its metadata, the old one
        deleted, the activity log told. The task as it is then. A failure leaves the object
        where it was stored (and ``target`` set: a rename of the completed download moves it)."""
        if not current.target:
            return current
        target, old = current.target, current.key
        try:
            self.store.copy(old, target, object_metadata(current.id, current.metadata), current.content_type)
        except Exception:  # the download is complete where it was stored
            log.exception("task %s: could not move %s to %s", current.id, old, target)
            return current
        moved = self.repo.move_stored(current, target)
        if moved is None:  # renamed or deleted meanwhile
            if target != old:
                self.store.delete(target)
            return current
        if target != old:
            self.store.delete(old)
            self._move_sidecar(old, target)
        self.activity.record(
            owner=current.owner, actor=ENGINE, kind="task.rename",
            message=(f"moved the stored file from {old} to {target} once stored (renamed during the transfer; "
                     "server-side copy, then the old object deleted)" if target != old
                     else f"rewrote the stored file's metadata at {old} once stored (server-side copy onto itself)"),
            task_id=current.id, batch_id=current.batch_id, data={"from": old, "to": target},
        )
        return moved

    def _move_sidecar(self, old: str, new: str) -> None:
        """An episode's NFO beside its video (chalicelib/sidecars) moves with it."""
        old_nfo, new_nfo = episode_nfo_key(old), episode_nfo_key(new)
        if old_nfo in (old, new_nfo) or self.store.size(old_nfo) is None:
            return
        self.store.copy(old_nfo, new_nfo, self.store.user_metadata(old_nfo), "application/xml")
        self.store.delete(old_nfo)

    def _move_completed(self, task: Task, renamed: Task) -> Task:
        """A completed download's object copied (server-side) to its new key, claimed unique,
        with its new metadata; the caller deletes the old object once the task points at the
        new one."""
        key = renamed.key
        if self.keys is not None and key != task.key:
            key = self.keys.claim(key, task.id, renamed.replace)
        self.store.copy(task.key, key, object_metadata(task.id, renamed.metadata), task.content_type)
        return replace(renamed, key=key, target=None)

    def move(self, who: Identity, task_id: str, to: str) -> Task:
        """Put a queued or paused download before (``top``) or after (``bottom``) every other
        download of its priority: one write (chalicelib/domain/ordering.py)."""
        self._writer(who)
        task = self.get(who, task_id)
        if task.state not in (TaskState.QUEUED, TaskState.PAUSED):
            raise Conflict(f"the download is {task.state.value}; only a queued or paused download can be moved")
        order = ordering.moved_order(to, self.clock.now_ms())
        moved = self.repo.reorder(task, order, who.username)
        if moved is None:
            raise Conflict("the download changed while it was being moved; try again")
        self.activity.record(
            owner=task.owner, actor=who.username, kind="task.move", message=f"moved to the {to} of the queue",
            task_id=task.id, batch_id=task.batch_id, data={"to": to},
        )
        self.dispatcher.kick()
        return moved

    def act(self, who: Identity, task_id: str, action: Action) -> Task:
        self._writer(who)
        task = self.get(who, task_id)
        moved = self.apply_action(who, task, action)
        self.dispatcher.kick()
        return moved

    def apply_action(self, who: Identity, task: Task, action: Action, record: bool = True) -> Task:
        """Apply ``action`` to ``task`` (which ``who`` may change) without kicking the
        dispatcher: Conflict from a state where it makes no sense (or if the task changed
        meanwhile), NotFound if it is gone."""
        try:
            target = apply(action, task.state)
        except InvalidTransition as exc:
            raise Conflict(str(exc)) from None
        finishing = action == Action.CANCEL
        change = ActionChange(
            tuple(sources(action)), target, who.username,
            # A new run makes every in-flight work message of the old one stale.
            new_run=action in (Action.PAUSE, Action.CANCEL),
            finished=finishing,
            expires=expiry(self.settings.get(), self.clock.now_ms()) if finishing else None,
            reopen=action in (Action.RESUME, Action.RETRY),
            # Back in the queue: no longer finished history that retention would delete.
            fresh=action == Action.RETRY,
        )
        moved = self.repo.act(task, change)
        if moved is None:
            current = self.repo.get(task.id)
            if current is None:
                raise NotFound(f"no download with id {task.id}")
            raise Conflict(f"the download is now {current.state.value}; {action.value} was not applied")
        log.info("task %s: %s -> %s (%s)", task.id, task.state.value, target.value, action.value)
        if action == Action.CANCEL:
            self._discard_upload(task)
        if record:
            self.activity.record(
                owner=task.owner, actor=who.username, kind=f"task.{action.value}",
                message=f"{action.value}: {task.state.value} -> {target.value}",
                task_id=task.id, batch_id=task.batch_id,
            )
        return moved

    def delete(self, who: Identity, task_id: str, delete_file: bool) -> None:
        self._writer(who)
        task = self.get(who, task_id)
        self.remove(who, task, delete_file)
        self.dispatcher.kick()

    def remove(self, who: Identity, task: Task, delete_file: bool, record: bool = True) -> None:
        """Delete ``task`` (cancelling it first if it is active) without kicking the dispatcher."""
        if task.state in (TaskState.QUEUED, TaskState.DOWNLOADING, TaskState.PAUSED):
            self.repo.cancel_for_delete(task, who.username)
        self._discard_upload(task)
        if delete_file:
            self.store.delete(task.key)
        self.repo.delete(task.id)
        log.info("task %s: deleted%s", task.id, " with its file" if delete_file else "")
        if record:
            self.activity.record(
                owner=task.owner, actor=who.username, kind="task.delete",
                message=f"deleted {task.filename}{' with its file' if delete_file else ''} ({task.state.value})",
                task_id=task.id, batch_id=task.batch_id, data={"file_deleted": delete_file},
            )

    def file_url(self, who: Identity, task_id: str) -> str:
        task = self.get(who, task_id)
        if task.state != TaskState.COMPLETED:
            raise Conflict(f"the download is {task.state.value}; its file exists once it is completed")
        return self.store.presign(task.key, task.filename, self.settings.get().presign_seconds)

    def file_link(self, who: Identity, task_id: str) -> tuple[str, int]:
        """The presigned URL of a completed download's file and its lifetime in seconds."""
        return self.file_url(who, task_id), self.settings.get().presign_seconds

    def parts_done(self, who: Identity, task_id: str) -> tuple[Task, tuple[int, ...]]:
        """The download and the numbers of its parts stored so far (of its current source)."""
        task = self.get(who, task_id)
        if task.state == TaskState.COMPLETED and task.part_count:
            # Every part is stored (a file of one part has no part record: one PutObject stored it).
            return task, tuple(range(1, task.part_count + 1))
        return task, tuple(self.repo.part_numbers(task.id, task.gen))

    def _discard_upload(self, task: Task) -> None:
        if task.upload_id:
            self.store.abort(task.key, task.upload_id)
        self.repo.delete_parts(task.id)

