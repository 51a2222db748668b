"""What the REST API can do with downloads: the service layer behind the thin handlers."""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass

from . import alltasks
from .auth.identity import Identity, Role
from .dispatcher import Dispatcher
from .domain import filenames
from .domain.states import Action, InvalidTransition, TaskState, apply, sources
from .domain.task import Task, rank
from .errors import Conflict, Forbidden, NotFound, field_error
from .models import TaskModel
from .repository import TaskRepository, now_ms
from .schemas import AddDownload, ListQuery, PatchDownload
from .settings import SettingsStore
from .storage import ObjectStore
from .urlguard import BlockedUrl, UrlGuard

log = logging.getLogger("haul.api")
# Task ids are UUIDs; anything else names no download (and never reaches DynamoDB).
_TASK_ID = re.compile(r"^[0-9A-Za-z-]{1,64}$")


@dataclass(frozen=True)
class Page:
    tasks: list[Task]
    total: int
    page: int
    per_page: int
    next_cursor: str | None


class DownloadService:
    def __init__(
        self,
        repo: TaskRepository,
        store: ObjectStore,
        dispatcher: Dispatcher,
        settings: SettingsStore,
        guard: UrlGuard,
    ) -> None:
        self.repo = repo
        self.store = store
        self.dispatcher = dispatcher
        self.settings = settings
        self.guard = guard

    @staticmethod
    def _writer(who: Identity) -> None:
        if not who.at_least(Role.USER):
            raise Forbidden(f"a {who.role.value} may read downloads but not change them")

    def add(self, who: Identity, req: AddDownload) -> Task:
        self._writer(who)
        try:
            self.guard.check(req.url)
        except BlockedUrl as exc:
            raise field_error("url", str(exc)) from None
        task_id = str(uuid.uuid4())
        created = now_ms()
        filename = req.filename or filenames.from_url(req.url)
        task = Task(
            id=task_id,
            owner=who.user_id,
            url=req.url,
            filename=filename,
            key=f"downloads/{task_id}/{filename}",
            priority=req.priority,
            order=created * 1000,
            headers=dict(req.headers),
            checksum=req.checksum,
            batch_id=req.batch_id or (str(uuid.uuid4()) if req.batch_name else None),
            batch_name=req.batch_name,
            category=req.category,
            tags=list(req.tags),
            filename_locked=req.filename is not None,
            created_at=created,
            updated_at=created,
            heartbeat=created,
        )
        self.repo.create(task)
        log.info("task %s: added (queued) %s", task_id, req.url)
        self.dispatcher.kick()
        return self.repo.get(task_id) or task

    def get(self, who: Identity, task_id: str) -> Task:
        """The download, if ``who`` may see it; another user's is a 404, as a missing one is."""
        task = self.repo.get(task_id) if _TASK_ID.match(task_id) else None
        if task is None or not who.sees(task.owner):
            raise NotFound(f"no download with id {task_id}")
        return task

    def list(self, who: Identity, query: ListQuery) -> Page:
        if query.owner is not None and query.owner != who.user_id and not who.is_admin:
            raise Forbidden("only an admin lists other users' downloads")
        if who.is_admin and query.owner is None:
            return self._list_all(query)
        owner = query.owner or who.user_id
        if query.cursor:
            try:
                tasks, cursor = self.repo.list_for_owner(owner, query.status, query.per_page, query.cursor)
            except ValueError:
                raise field_error("cursor", "is not a cursor this API issued for this list") from None
        else:
            # Page N walks the index a page at a time from the start.
            tasks, cursor, page = [], None, 0
            while page < query.page:
                tasks, cursor = self.repo.list_for_owner(owner, query.status, query.per_page, cursor)
                page += 1
                if cursor is None:
                    break
            if page < query.page:
                tasks = []
        total = self.repo.count_for_owner(owner, query.status)
        return Page(tasks, total, query.page, query.per_page, cursor)

    def _list_all(self, query: ListQuery) -> Page:
        """Every owner's downloads (admins), state by state in dispatch order (chalicelib/alltasks.py)."""
        try:
            if query.cursor:
                tasks, cursor = alltasks.list_all(self.repo, query.status, query.per_page, query.cursor)
            else:
                tasks, cursor, page = [], None, 0
                while page < query.page:
                    tasks, cursor = alltasks.list_all(self.repo, query.status, query.per_page, cursor)
                    page += 1
                    if cursor is None:
                        break
                if page < query.page:
                    tasks = []
        except alltasks.BadCursor as exc:
            raise field_error("cursor", str(exc)) from None
        total = alltasks.count_all(self.repo, query.status)
        return Page(tasks, total, query.page, query.per_page, cursor)

    def patch(self, who: Identity, task_id: str, req: PatchDownload) -> Task:
        self._writer(who)
        task = self.get(who, task_id)
        actions = []
        if req.priority is not None:
            actions += [TaskModel.priority.set(req.priority), TaskModel.rank.set(rank(req.priority, task.order))]
        if req.filename is not None:
            if task.upload_id is not None:
                raise Conflict("the filename is fixed once the transfer has started")
            actions += [
                TaskModel.filename.set(req.filename),
                TaskModel.key.set(f"downloads/{task.id}/{req.filename}"),
                TaskModel.filename_locked.set(True),
            ]
        if not actions:
            return task
        cond = TaskModel.upload_id.does_not_exist() if req.filename is not None else None
        updated = self.repo.update(task, actions, cond)
        if updated is None:
            raise Conflict("the download changed while it was being edited; try again")
        if req.priority is not None:
            self.dispatcher.kick()
        return updated

    def act(self, who: Identity, task_id: str, action: Action) -> Task:
        self._writer(who)
        task = self.get(who, task_id)
        try:
            target = apply(action, task.state)
        except InvalidTransition as exc:
            raise Conflict(str(exc)) from None
        extra = []
        if action in (Action.PAUSE, Action.CANCEL):
            # A new run makes every in-flight work message of the old one stale.
            extra += [TaskModel.run.add(1), TaskModel.lane_speed.set({}), TaskModel.phase.remove()]
        if action == Action.CANCEL:
            extra += [TaskModel.finished_at.set(now_ms()), TaskModel.upload_id.remove()]
        if action in (Action.RESUME, Action.RETRY):
            extra += [TaskModel.error.remove(), TaskModel.finished_at.remove()]
        if action == Action.RETRY:
            extra += [TaskModel.restarts.set(0), TaskModel.note.remove()]
        moved = self.repo.transition(task, sources(action), target, extra, TaskModel.run == task.run)
        if moved is None:
            current = self.get(who, task_id)
            raise Conflict(f"the download is now {current.state.value}; {action.value} was not applied")
        log.info("task %s: %s -> %s (%s)", task.id, task.state.value, target.value, action.value)
        if action == Action.CANCEL:
            self._discard_upload(task)
        self.dispatcher.kick()
        return moved

    def delete(self, who: Identity, task_id: str, delete_file: bool) -> None:
        self._writer(who)
        task = self.get(who, task_id)
        if task.state in (TaskState.QUEUED, TaskState.DOWNLOADING, TaskState.PAUSED):
            self.repo.transition(
                task, [task.state], TaskState.CANCELLED, [TaskModel.run.add(1)], TaskModel.run == task.run
            )
        self._discard_upload(task)
        if delete_file:
            self.store.delete(task.key)
        self.repo.delete(task.id)
        log.info("task %s: deleted%s", task.id, " with its file" if delete_file else "")
        self.dispatcher.kick()

    def file_url(self, who: Identity, task_id: str) -> str:
        task = self.get(who, task_id)
        if task.state != TaskState.COMPLETED:
            raise Conflict(f"the download is {task.state.value}; its file exists once it is completed")
        return self.store.presign(task.key, task.filename, self.settings.get().presign_seconds)

    def _discard_upload(self, task: Task) -> None:
        if task.upload_id:
            self.store.abort(task.key, task.upload_id)
        self.repo.delete_parts(task.id)

