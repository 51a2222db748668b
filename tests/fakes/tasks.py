"""The task repository in memory: :class:`FakeTasks` implements the ``TaskStore`` port
(chalicelib/transfer/ports.py) with the same conditions as chalicelib/persistence/tasks.py,
each write checked and applied under one lock, as DynamoDB applies one UpdateItem."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.s3 import UploadedPart
from chalicelib.domain.states import FINISHED, TaskState
from chalicelib.domain.task import Task, rank
from chalicelib.transfer.ports import ActionChange, GenerationPlan, LaneClaim, TaskEdit
from tests.fakes.clock import ManualClock

DOWNLOADING = TaskState.DOWNLOADING


@dataclass
class Row:
    """A task's item: the task and the attributes only the store sees."""

    task: Task
    lane_steps: dict[str, int] = field(default_factory=dict)
    lane_tokens: dict[str, str] = field(default_factory=dict)
    finalizing: str | None = None
    actor: str | None = None
    expires: datetime | None = None
    sweep: str | None = None
    dedupe: str | None = None


@dataclass
class PartRow:
    part: UploadedPart
    size: int


def _this_run(row: Row, task: Task) -> bool:
    return row.task.state == DOWNLOADING and row.task.run == task.run


class FakeTasks:
    def __init__(self, clock: ManualClock | None = None) -> None:
        self.clock = clock or ManualClock()
        self.rows: dict[str, Row] = {}
        self.parts: dict[tuple[str, int, int], PartRow] = {}
        self.queued_owners: set[str] = set()  # what the real store notes for the fair dispatcher
        self.batches: dict[str, dict[str, Any]] = {}  # batch items (tests/fakes/batches.py reads them)
        self._lock = threading.RLock()

    # -- the primitives -------------------------------------------------------------------
    def _write(self, task_id: str, holds: Callable[[Row], bool], change: Callable[[Row], None]) -> Task | None:
        """One conditional update: ``change`` if the item exists and ``holds``; the task after."""
        with self._lock:
            row = self.rows.get(task_id)
            if row is None or not holds(row):
                return None
            change(row)
            row.task.updated_at = self.clock.now_ms()
            if row.task.state == TaskState.QUEUED:
                self.queued_owners.add(row.task.owner)
            return copy.deepcopy(row.task)

    def _transition(
        self, task: Task, sources: Iterable[TaskState], target: TaskState, holds: Callable[[Row], bool],
        change: Callable[[Row], None],
    ) -> Task | None:
        allowed = set(sources)

        def both(row: Row) -> None:
            row.task.state = target
            change(row)

        return self._write(task.id, lambda r: r.task.state in allowed and holds(r), both)

    def row(self, task_id: str) -> Row:
        """The stored item (for tests to look at, or to set up a case)."""
        return self.rows[task_id]

    # -- reads ----------------------------------------------------------------------------
    def get(self, task_id: str) -> Task | None:
        with self._lock:
            row = self.rows.get(task_id)
            return copy.deepcopy(row.task) if row else None

    def get_many(self, task_ids: Sequence[str]) -> dict[str, Task]:
        return {i: t for i in dict.fromkeys(task_ids) if (t := self.get(i)) is not None}

    def owners_of(self, task_ids: Sequence[str]) -> dict[str, str]:
        return {i: t.owner for i, t in self.get_many(task_ids).items()}

    def _ranked(self, keep: Callable[[Task], bool]) -> list[Task]:
        with self._lock:
            found = [copy.deepcopy(r.task) for r in self.rows.values() if keep(r.task)]
        return sorted(found, key=lambda t: (rank(t.priority, t.order), t.id))

    def ids_in_state(self, state: TaskState, limit: int | None = None) -> list[str]:
        ids = [t.id for t in self._ranked(lambda t: t.state == state)]
        return ids[:limit] if limit is not None else ids

    def queue_of(self, owner: str, limit: int) -> list[str]:
        if limit <= 0:
            return []
        return [t.id for t in self._ranked(lambda t: t.owner == owner and t.state == TaskState.QUEUED)][:limit]

    def ids_by_url(self, dedupe: str, limit: int) -> list[str]:
        with self._lock:
            hits = [r.task for r in self.rows.values() if r.dedupe == dedupe]
        return [t.id for t in sorted(hits, key=lambda t: (t.created_at, t.id), reverse=True)][:limit]

    def in_state_of(self, owner: str, state: TaskState) -> list[Task]:
        with self._lock:
            return [
                copy.deepcopy(r.task) for r in self.rows.values() if r.task.owner == owner and r.task.state == state
            ]

    def expired(self, now_s: int, limit: int) -> list[str]:
        with self._lock:
            due = [(r.expires, i) for i, r in self.rows.items()
                   if r.sweep == "1" and r.expires is not None and r.expires.timestamp() < now_s]
        return [i for _, i in sorted(due)][:limit]

    # -- tasks and batches ----------------------------------------------------------------
    def create(self, task: Task, actor: str | None = None) -> None:
        from chalicelib.domain.urls import dedupe_key

        with self._lock:
            if task.id in self.rows:
                raise ValueError(f"task {task.id} exists")
            self.rows[task.id] = Row(copy.deepcopy(task), actor=actor, dedupe=dedupe_key(task.owner, task.url))
            if task.state == TaskState.QUEUED:
                self.queued_owners.add(task.owner)

    def delete(self, task_id: str) -> None:
        with self._lock:
            self.rows.pop(task_id, None)

    def delete_expired(self, task_id: str, now_s: int) -> bool:
        with self._lock:
            row = self.rows.get(task_id)
            if row is None or row.sweep != "1" or row.expires is None or row.task.state not in FINISHED:
                return False
            if not row.expires < datetime.fromtimestamp(now_s, tz=UTC):
                return False
            del self.rows[task_id]
            return True

    def claim_batch(self, batch_id: str, owner: str, name: str | None = None) -> bool:
        with self._lock:
            item = self.batches.get(batch_id)
            if item is not None and item["owner"] != owner:
                return False
            now = self.clock.now_ms()
            if item is None:
                item = self.batches[batch_id] = {"id": batch_id, "owner": owner, "created_at": now,
                                                 "created_key": f"{now:013d}#{batch_id}"}
            item["updated_at"] = now
            if name and not item.get("name"):
                item["name"] = name
            return True

    # -- parts ----------------------------------------------------------------------------
    def record_part(self, task: Task, gen: int, lane: str, part: UploadedPart, size: int) -> Task | None:
        key = (task.id, gen, part.number)
        with self._lock:
            if key in self.parts:
                return None
            self.parts[key] = PartRow(part, size)

        def count(row: Row) -> None:
            row.task.parts_done += 1
            row.task.bytes_done += size
            row.task.lane_bytes[lane] = 0

        counted = self._write(task.id, lambda r: r.task.gen == gen and r.task.state != TaskState.CANCELLED, count)
        if counted is None:
            current = self.get(task.id)
            if current is None or current.state == TaskState.CANCELLED:
                with self._lock:
                    self.parts.pop(key, None)
        return counted

    def _numbers(self, task_id: str, gen: int) -> list[int]:
        with self._lock:
            return sorted(n for (t, g, n) in self.parts if t == task_id and g == gen)

    def count_parts(self, task_id: str, gen: int) -> int:
        return len(self._numbers(task_id, gen))

    def has_part(self, task_id: str, gen: int, number: int) -> bool:
        with self._lock:
            return (task_id, gen, number) in self.parts

    def part_numbers(self, task_id: str, gen: int) -> list[int]:
        return self._numbers(task_id, gen)

    def iter_parts(self, task_id: str, gen: int) -> Iterator[UploadedPart]:
        for n in self._numbers(task_id, gen):
            yield self.parts[(task_id, gen, n)].part

    def delete_parts(self, task_id: str, below_gen: int | None = None) -> int:
        with self._lock:
            gone = [k for k in self.parts if k[0] == task_id and (below_gen is None or k[1] < below_gen)]
            for k in gone:
                del self.parts[k]
            return len(gone)

    # -- the transfer ---------------------------------------------------------------------
    def resume_run(self, task: Task) -> Task | None:
        def change(row: Row) -> None:
            row.lane_steps, row.lane_tokens = {}, {}
            row.task.lane_bytes, row.task.lane_speed = {}, {}
            row.task.phase, row.task.heartbeat = "transferring", self.clock.now_ms()

        return self._write(task.id, lambda r: _this_run(r, task), change)

    def begin_generation(self, task: Task, plan: GenerationPlan) -> Task | None:
        def change(row: Row) -> None:
            t = row.task
            t.filename, t.key, t.size, t.resumable = plan.filename, plan.key, plan.size, plan.resumable
            t.content_type, t.validator = plan.content_type or None, plan.validator or None
            t.part_size, t.part_count, t.upload_id = plan.part_size, plan.part_count or None, plan.upload_id or None
            t.gen, t.parts_done, t.bytes_done = task.gen + 1, 0, 0
            t.lane_bytes, t.lane_speed, row.lane_steps, row.lane_tokens = {}, {}, {}, {}
            row.finalizing, t.note = None, plan.note or None
            t.phase, t.heartbeat = "transferring", self.clock.now_ms()

        return self._write(task.id, lambda r: _this_run(r, task) and r.task.gen == task.gen
                           and r.task.filename_locked == task.filename_locked and r.task.key == task.key, change)

    def claim_lane(self, claim: LaneClaim) -> Task | None:
        def holds(row: Row) -> bool:
            t = row.task
            if t.state != DOWNLOADING or t.run != claim.run or t.gen != claim.gen:
                return False
            step = row.lane_steps.get(claim.lane)
            return step is None or step < claim.step or row.lane_tokens.get(claim.lane) == claim.token

        def change(row: Row) -> None:
            row.lane_steps[claim.lane], row.lane_tokens[claim.lane] = claim.step, claim.token

        return self._write(claim.task_id, holds, change)

    def lane_progress(self, task: Task, lane: str, slot: str, part_bytes: int, speed: int) -> Task | None:
        def change(row: Row) -> None:
            row.task.lane_bytes[slot], row.task.lane_speed[lane] = part_bytes, speed
            row.task.heartbeat = self.clock.now_ms()

        held = lambda r: r.task.phase == "held" and r.task.gen == task.gen  # noqa: E731
        return self._write(task.id, lambda r: _this_run(r, task) or held(r), change)

    def lane_done(self, task: Task, lane: str) -> None:
        self._write(task.id, lambda r: True, lambda r: r.task.lane_speed.__setitem__(lane, 0))

    def stream_measured(self, task: Task, size: int, part_count: int) -> Task | None:
        def change(row: Row) -> None:
            row.task.size, row.task.part_count, row.task.lane_speed["0"] = size, part_count, 0

        return self._write(task.id, lambda r: r.task.run == task.run and r.task.gen == task.gen, change)

    def _set(self, task: Task, holds: Callable[[Row], bool], **values: object) -> Task | None:
        """Set task fields (``actor``: the item's) if ``holds``."""

        def change(row: Row) -> None:
            for name, value in values.items():
                setattr(row if name == "actor" else row.task, name, value)

        return self._write(task.id, holds, change)

    def note_retry(self, task: Task, until_ms: int, note: str) -> Task | None:
        return self._set(task, lambda r: _this_run(r, task), heartbeat=until_ms, note=note)

    def note_waiting(self, task: Task, note: str) -> Task | None:
        return self._set(task, lambda r: _this_run(r, task), note=note, heartbeat=self.clock.now_ms())

    def clear_note(self, task: Task, note: str) -> None:
        self._set(task, lambda r: r.task.note == note, note=None)

    def mark_slow(self, task: Task, since: int) -> None:
        self._set(task, lambda r: _this_run(r, task) and r.task.slow_since is None, slow_since=since)

    def renew_slow(self, task: Task, since: int) -> None:
        self._set(task, lambda r: _this_run(r, task) and r.task.slow_since == task.slow_since, slow_since=since)

    def clear_slow(self, task: Task) -> None:
        self._set(task, lambda r: _this_run(r, task), slow_since=None)

    def claim_finalize(self, task: Task, token: str) -> Task | None:
        def change(row: Row) -> None:
            row.finalizing, row.task.phase, row.task.heartbeat = token, "finalizing", self.clock.now_ms()

        return self._write(task.id, lambda r: r.task.state == DOWNLOADING and r.task.gen == task.gen
                           and r.finalizing is None, change)

    def release_finalize(self, task: Task, token: str) -> None:
        def change(row: Row) -> None:
            row.finalizing, row.task.phase = None, "transferring"

        self._write(task.id, lambda r: r.finalizing == token, change)

    def _finish(self, row: Row, expires: datetime | None, actor: str) -> None:
        row.task.finished_at, row.task.phase, row.finalizing = self.clock.now_ms(), None, None
        row.task.lane_speed, row.actor = {}, actor
        row.expires, row.sweep = (expires, "1") if expires is not None else (None, None)

    def complete(self, task: Task, token: str | None, expires: datetime | None, actor: str) -> Task | None:
        def fence(row: Row) -> bool:
            if token is not None:
                return row.finalizing == token
            return row.task.run == task.run and row.task.gen == task.gen

        def change(row: Row) -> None:
            self._finish(row, expires, actor)
            row.task.lane_bytes, row.task.error = {}, None
            row.task.parts_done, row.task.bytes_done = task.part_count or 1, task.size or 0

        return self._transition(task, [DOWNLOADING], TaskState.COMPLETED, fence, change)

    def fail(
        self, task: Task, reason: str, expires: datetime | None, actor: str, forget_upload: bool = False
    ) -> Task | None:
        def change(row: Row) -> None:
            self._finish(row, expires, actor)
            row.task.error = reason
            if forget_upload:
                row.task.upload_id = None

        return self._transition(task, [DOWNLOADING], TaskState.FAILED, lambda r: r.task.run == task.run, change)

    def restart_run(self, task: Task, reason: str, actor: str) -> Task | None:
        def change(row: Row) -> None:
            row.task.run += 1
            row.task.restarts += 1
            row.task.note, row.task.phase, row.task.heartbeat, row.actor = (
                reason,
                "starting",
                self.clock.now_ms(),
                actor,
            )

        return self._write(task.id, lambda r: _this_run(r, task) and r.task.gen == task.gen, change)

    # -- the dispatcher, the reconciler, the API -----------------------------------------
    def start_download(self, task: Task, actor: str) -> Task | None:
        def change(row: Row) -> None:
            t, now = row.task, self.clock.now_ms()
            if task.phase == "held":
                t.note = None
            t.run += 1
            t.phase, t.started_at, t.heartbeat = "starting", t.started_at or now, now
            t.lane_bytes, t.lane_speed, t.error, t.slow_since, row.actor = {}, {}, None, None, actor

        return self._transition(task, [TaskState.QUEUED], DOWNLOADING, lambda r: True, change)

    def send_back(self, task: Task, actor: str, note: str, order: int | None = None) -> Task | None:
        def change(row: Row) -> None:
            t = row.task
            t.run += 1
            t.phase, t.note, t.lane_speed, row.actor = "held", note, {}, actor
            if order is not None:
                t.order, t.slow_since = order, None

        return self._transition(task, [DOWNLOADING], TaskState.QUEUED,
                                lambda r: r.task.run == task.run and r.finalizing is None, change)

    def revive(self, task: Task, counted: bool) -> Task | None:
        def change(row: Row) -> None:
            t = row.task
            t.restarts += 1 if counted else 0
            t.run += 1
            t.phase, row.finalizing, t.lane_speed, t.heartbeat = "starting", None, {}, self.clock.now_ms()

        return self._write(task.id, lambda r: _this_run(r, task), change)

    def edit(self, task: Task, edit: TaskEdit) -> Task | None:
        def holds(row: Row) -> bool:
            t = row.task
            if edit.priority is not None and t.order != task.order:
                return False
            if edit.fence == "completed":
                return t.state == TaskState.COMPLETED and t.key == task.key
            if edit.fence == "unstarted":
                return (t.upload_id is None and t.state == task.state and t.key == task.key
                        and (t.state != TaskState.DOWNLOADING or t.phase == "starting"))
            if edit.fence == "transferring":
                return t.state == task.state and row.finalizing is None
            return True

        def change(row: Row) -> None:
            t, new = row.task, edit.renamed
            row.actor = edit.actor
            if edit.priority is not None:
                t.priority = edit.priority
            if new is not None:
                t.filename, t.filename_locked, t.key, t.target = new.filename, new.filename_locked, new.key, new.target
                t.metadata, t.path, t.naming, t.replace = copy.deepcopy(new.metadata), new.path, new.naming, new.replace
            if edit.set_speed_limit:
                t.speed_limit = edit.speed_limit

        return self._write(task.id, holds, change)

    def move_stored(self, task: Task, target: str) -> Task | None:
        def change(row: Row) -> None:
            row.task.key, row.task.target = target, None

        return self._write(task.id, lambda r: r.task.target == target and r.task.key == task.key, change)

    def _reorderable(self, task: Task, same_order: bool) -> Callable[[Row], bool]:
        def holds(row: Row) -> bool:
            t = row.task
            return (t.priority == task.priority and (not same_order or t.order == task.order)
                    and t.state in (TaskState.QUEUED, TaskState.PAUSED))

        return holds

    def reorder(self, task: Task, order: int, actor: str) -> Task | None:
        return self._set(task, self._reorderable(task, False), order=order, actor=actor)

    def place(self, task: Task, priority: int, order: int, actor: str) -> Task | None:
        return self._set(task, self._reorderable(task, True), priority=priority, order=order, actor=actor)

    def act(self, task: Task, change: ActionChange) -> Task | None:
        def apply(row: Row) -> None:
            t, now = row.task, self.clock.now_ms()
            row.actor = change.actor
            if change.new_run:
                t.run += 1
                t.lane_speed, t.phase = {}, None
            if change.finished:
                t.finished_at, t.upload_id = now, None
                row.expires, row.sweep = (change.expires, "1") if change.expires is not None else (None, None)
            if change.reopen:
                t.error, t.finished_at = None, None
            if change.fresh:
                t.restarts, t.note, row.expires, row.sweep = 0, None, None, None

        return self._transition(task, change.sources, change.target, lambda r: r.task.run == task.run, apply)

    def cancel_for_delete(self, task: Task, actor: str) -> Task | None:
        def change(row: Row) -> None:
            row.task.run += 1
            row.actor = actor

        return self._transition(task, [task.state], TaskState.CANCELLED, lambda r: r.task.run == task.run, change)
