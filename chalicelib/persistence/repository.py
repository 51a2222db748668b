"""Task and part persistence: every state change is a conditional DynamoDB write."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ..adapters.s3 import UploadedPart
from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.states import TaskState
from ..domain.task import Task, rank
from ..domain.urls import dedupe_key, host_of
from ..metadata import filters
from . import cursors
from .conditions import condition_failed
from .models import BatchModel, PartModel, TaskModel
from .waiting import WaitingOwners

_TASK_FIELDS = [f.name for f in fields(Task)]


def now_ms() -> int:
    return int(time.time() * 1000)


def created_key(created_at: int, task_id: str) -> str:
    return f"{created_at:013d}#{task_id}"


def to_task(model: TaskModel) -> Task:
    values: dict[str, Any] = {}
    for name in _TASK_FIELDS:
        value = getattr(model, name, None)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        values[name] = value
    values["state"] = TaskState(model.state)
    for name in ("headers", "lane_bytes", "lane_speed"):
        values[name] = dict(getattr(model, name, None) or {})
    for name in ("lane_bytes", "lane_speed"):
        values[name] = {k: int(v) for k, v in values[name].items()}
    values["tags"] = list(model.tags or [])
    for name in ("resumable", "filename_locked"):
        values[name] = bool(values[name]) if values[name] is not None else name == "resumable"
    return Task(**values)


def task_from_image(image: dict[str, Any] | None) -> Task | None:
    """A task from a stream record's image (DynamoDB JSON); None for no image."""
    if not image:
        return None
    return to_task(TaskModel.from_raw_data(image))


def new_model(task: Task, actor: str | None = None) -> TaskModel:
    """A new task's item, with the attributes its indexes read (owner#state, rank, ...)."""
    model = TaskModel(task.id)
    model.actor = actor
    for name in _TASK_FIELDS:
        value = getattr(task, name)
        if name == "state":
            value = task.state.value
        setattr(model, name, value)
    model.owner_state = f"{task.owner}#{task.state.value}"
    model.rank = rank(task.priority, task.order)
    model.created_key = created_key(task.created_at, task.id)
    model.host = task.host or host_of(task.url) or None
    model.search = f"{task.filename} {task.url} {filters.search_words(task.metadata)}".lower().rstrip()
    model.dedupe = dedupe_key(task.owner, task.url)
    model.meta_id, model.meta_name = filters.index_keys(task.owner, task.metadata)
    model.meta_id_all, model.meta_name_all = filters.every_owner(model.meta_id), filters.every_owner(model.meta_name)
    return model


def _cursor_encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return cursors.pack(key)


def _cursor_decode(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = cursors.unpack(cursor)
    except (ValueError, TypeError):
        raise ValueError("the cursor is not one this API issued") from None
    if not isinstance(value, dict):
        raise ValueError("the cursor is not one this API issued")
    return value


def _key_of(key: dict[str, Any], hash_name: str, hash_value: str) -> bool:
    """Whether ``key`` is a key of the owner index queried with ``hash_name = hash_value``
    (a forged one would make DynamoDB answer a ValidationException: a 5xx to the client)."""
    if set(key) != {"id", "created_key", hash_name}:
        return False
    if not all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values()):
        return False
    return bool(key[hash_name]["S"] == hash_value)


class TaskRepository:
    def __init__(self, waiting: WaitingOwners | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        """``waiting``: where the owners of queued tasks are noted for the fair dispatcher
        (chalicelib/persistence/waiting.py); every task made queued here notes its owner. ``clock``: what
        ``updated_at`` and a part's ``recorded_at`` are read from."""
        self.waiting = waiting
        self.clock = clock

    def note_queued(self, owner: str) -> None:
        """``owner`` has a queued task now (a bulk path that writes tasks itself calls this)."""
        if self.waiting is not None:
            self.waiting.note(owner)

    # -- tasks ----------------------------------------------------------------------------
    def create(self, task: Task, actor: str | None = None) -> None:
        """Store a new task; ``actor``: who added it (the activity log reads it from the stream)."""
        new_model(task, actor).save(condition=TaskModel.id.does_not_exist())
        if task.state == TaskState.QUEUED:
            self.note_queued(task.owner)

    def get(self, task_id: str) -> Task | None:
        try:
            return to_task(TaskModel.get(task_id, consistent_read=True))
        except DoesNotExist:
            return None

    def update(
        self,
        task: Task,
        actions: Sequence[Action],
        condition: Condition | None = None,
    ) -> Task | None:
        """Apply ``actions`` if ``condition`` holds; the task as it is now, or None if it lost."""
        model = TaskModel(task.id)
        cond = TaskModel.id.exists()
        if condition is not None:
            cond = cond & condition
        try:
            model.update(actions=[*actions, TaskModel.updated_at.set(self.clock.now_ms())], condition=cond)
        except UpdateError as exc:
            if condition_failed(exc):
                return None
            raise
        return to_task(model)

    def transition(
        self,
        task: Task,
        sources: Iterable[TaskState],
        target: TaskState,
        actions: Sequence[Action] | None = None,
        condition: Condition | None = None,
    ) -> Task | None:
        """Move the task to ``target`` if it is in one of ``sources``."""
        src = [s.value for s in sources]
        cond = TaskModel.state.is_in(*src)
        if condition is not None:
            cond = cond & condition
        moves = [
            TaskModel.state.set(target.value),
            TaskModel.owner_state.set(f"{task.owner}#{target.value}"),
            *(actions or []),
        ]
        moved = self.update(task, moves, cond)
        if moved is not None and target == TaskState.QUEUED:
            self.note_queued(task.owner)
        return moved

    def delete(self, task_id: str) -> None:
        try:
            TaskModel(task_id).delete()
        except DeleteError as exc:
            if not condition_failed(exc):
                raise

    # -- batches ---------------------------------------------------------------------------
    def claim_batch(self, batch_id: str, owner: str, name: str | None = None) -> bool:
        """Make ``owner`` the owner of batch ``batch_id``: one conditional write that creates
        the batch's item if there is none, or touches it if ``owner`` owns it already. False
        (and nothing written) when the batch belongs to someone else.

        Every path that puts a task into a batch calls this first (once per request is
        enough), so a batch's item exists, with its owner, before any of its tasks does; the
        statistics stream only counts into items that exist (chalicelib/stats/store.py)."""
        created = self.clock.now_ms()
        actions: list[Action] = [
            BatchModel.owner.set(owner),
            BatchModel.created_at.set(BatchModel.created_at | created),
            BatchModel.created_key.set(BatchModel.created_key | f"{created:013d}#{batch_id}"),
            BatchModel.updated_at.set(created),
        ]
        if name:
            actions.append(BatchModel.name.set(BatchModel.name | name))
        try:
            BatchModel(batch_id).update(
                actions=actions, condition=BatchModel.id.does_not_exist() | (BatchModel.owner == owner)
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def list_for_owner(
        self, owner: str, state: TaskState | None, limit: int, cursor: str | None
    ) -> tuple[list[Task], str | None]:
        """One page of ``owner``'s tasks, newest first; ValueError for a cursor this list did
        not issue (another owner's, another filter's, or forged)."""
        hash_name, hash_value = ("owner", owner) if state is None else ("owner_state", f"{owner}#{state.value}")
        start = _cursor_decode(cursor)
        if start is not None and not _key_of(start, hash_name, hash_value):
            raise ValueError("the cursor is not one this API issued for this list")
        if state is None:
            result = TaskModel.by_owner.query(
                owner, scan_index_forward=False, limit=limit, last_evaluated_key=start
            )
        else:
            result = TaskModel.by_owner_state.query(
                f"{owner}#{state.value}", scan_index_forward=False, limit=limit,
                last_evaluated_key=start,
            )
        tasks = [to_task(m) for m in result]
        return tasks, _cursor_encode(result.last_evaluated_key)

    def count_for_owner(self, owner: str, state: TaskState | None) -> int:
        if state is None:
            return int(TaskModel.by_owner.count(owner))
        return int(TaskModel.by_owner_state.count(f"{owner}#{state.value}"))

    def ids_in_state(self, state: TaskState, limit: int | None = None) -> list[str]:
        """Task ids in ``state``, in dispatch order (priority, then queue order)."""
        return [m.id for m in TaskModel.by_state.query(state.value, limit=limit)]

    def count_in_state(self, state: TaskState) -> int:
        return int(TaskModel.by_state.count(state.value))

    def queue_of(self, owner: str, limit: int) -> list[str]:
        """Up to ``limit`` of ``owner``'s queued task ids, in their dispatch order."""
        if limit <= 0:
            return []
        found = TaskModel.by_owner_queue.query(f"{owner}#{TaskState.QUEUED.value}", limit=limit)
        return [m.id for m in found]

    def get_many(self, task_ids: Sequence[str]) -> dict[str, Task]:
        """The tasks of ``task_ids`` that exist, by id (strongly consistent BatchGetItems)."""
        if not task_ids:
            return {}
        return {m.id: to_task(m) for m in TaskModel.batch_get(list(dict.fromkeys(task_ids)), consistent_read=True)}

    def owners_of(self, task_ids: Sequence[str]) -> dict[str, str]:
        """task id -> owner, for those of ``task_ids`` that exist (BatchGetItem, owner only)."""
        if not task_ids:
            return {}
        found = TaskModel.batch_get(list(dict.fromkeys(task_ids)), attributes_to_get=["id", "owner"])
        return {m.id: m.owner for m in found}

    # -- parts ----------------------------------------------------------------------------
    def record_part(
        self, task: Task, gen: int, lane: str, part: UploadedPart, size: int
    ) -> Task | None:
        """Record an uploaded part once, and count it on the task.

        Two writes, each safe to repeat, rather than one transaction: the part is put only if
        it is absent, and only the put that created it counts it. Completion counts the part
        items themselves (:meth:`count_parts`), never the task's counter, so a worker that
        dies between the two writes leaves only the progress display one part short until
        then. In DynamoDB this costs half a transaction; in moto, whose transactions copy
        whole tables, it keeps recording flat however long the tables grow.

        The task as counted, or None when the part was already recorded (a duplicate
        delivery), the task has been planned afresh since, or it was cancelled or deleted while
        this part moved: then the part just put is taken back, since the cancel may already
        have forgotten the task's parts (a part landing after that stayed behind; LocalStack's
        timing showed it).
        """
        item = PartModel(
            task.id,
            PartModel.slot_for(gen, part.number),
            number=part.number,
            gen=gen,
            etag=part.etag,
            size=size,
            checksum_crc32=part.checksum_crc32,
            recorded_at=self.clock.now_ms(),
        )
        try:
            item.save(condition=PartModel.slot.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return None
            raise
        counted = self.update(
            task,
            [
                TaskModel.parts_done.add(1),
                TaskModel.bytes_done.add(size),
                TaskModel.lane_bytes[lane].set(0),
            ],
            (TaskModel.gen == gen) & (TaskModel.state != TaskState.CANCELLED.value),
        )
        if counted is None:
            current = self.get(task.id)
            if current is None or current.state == TaskState.CANCELLED:
                item.delete()
        return counted

    def count_parts(self, task_id: str, gen: int) -> int:
        """How many parts of generation ``gen`` are recorded (a strongly consistent count)."""
        return int(PartModel.count(task_id, PartModel.slot.startswith(f"{gen:06d}:"), consistent_read=True))

    def has_part(self, task_id: str, gen: int, number: int) -> bool:
        try:
            PartModel.get(task_id, PartModel.slot_for(gen, number), consistent_read=True)
        except DoesNotExist:
            return False
        return True

    def parts(self, task_id: str, gen: int) -> list[PartModel]:
        prefix = f"{gen:06d}:"
        return list(
            PartModel.query(task_id, PartModel.slot.startswith(prefix), consistent_read=True)
        )

    def part_numbers(self, task_id: str, gen: int) -> list[int]:
        """The numbers of the parts of this generation that are stored, in order."""
        return sorted(int(p.number) for p in self.parts(task_id, gen))

    def delete_parts(self, task_id: str, below_gen: int | None = None) -> int:
        """Forget the recorded parts of a task (of generations below ``below_gen``, if given)."""
        count = 0
        with PartModel.batch_write() as batch:
            for part in PartModel.query(task_id, attributes_to_get=["task_id", "slot", "gen"]):
                if below_gen is None or part.gen < below_gen:
                    batch.delete(part)
                    count += 1
        return count

    def iter_parts(self, task_id: str, gen: int) -> Iterator[UploadedPart]:
        for part in self.parts(task_id, gen):
            yield UploadedPart(int(part.number), part.etag, part.checksum_crc32)

