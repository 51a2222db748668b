"""The services' task repository on DynamoDB: every write the engine and the API make to a
task, named for what it means (``begin_generation``, ``claim_lane``, ``record_part``,
``complete``...), each one conditional UpdateItem fenced as its docstring says.

This is the only place the services' writes are spelt as PynamoDB expressions; the services
see the port (chalicelib/transfer/ports.py ``TaskStore``), and the unit tests an in-memory
fake of it (tests/fakes/tasks.py) that the contract suite (tests/contract/) runs against
both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pynamodb.exceptions import DeleteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ..domain.clock import SYSTEM_CLOCK, Clock
from ..domain.states import FINISHED, TaskState
from ..domain.task import Task, rank
from ..engine.retention import SWEEP
from ..metadata import filters as meta_filters
from ..transfer.ports import ActionChange, GenerationPlan, LaneClaim, TaskEdit
from .conditions import condition_failed
from .indexes import ExpiryIndex
from .models import TaskModel
from .repository import TaskRepository, to_task
from .waiting import WaitingOwners

_DOWNLOADING = TaskState.DOWNLOADING.value


def _marks(expires: datetime | None) -> list[Action]:
    """A finishing task's retention marks (chalicelib/engine/retention.py): when it leaves the history."""
    if expires is None:
        return [TaskModel.expires.remove(), TaskModel.sweep.remove()]
    return [TaskModel.expires.set(expires), TaskModel.sweep.set(SWEEP)]


def _set_or_remove(attr: object, value: object) -> Action:
    return attr.set(value) if value is not None else attr.remove()  # type: ignore[attr-defined]


def _naming_actions(t: Task) -> list[Action]:
    """Where a download is stored and what it is: its name, metadata (and the sparse index keys
    made of it), folder, template, key, and its words for text search."""
    meta_id, meta_name = meta_filters.index_keys(t.owner, t.metadata)
    return [
        TaskModel.filename.set(t.filename), TaskModel.filename_locked.set(t.filename_locked),
        TaskModel.key.set(t.key), _set_or_remove(TaskModel.target, t.target),
        _set_or_remove(TaskModel.metadata, t.metadata), _set_or_remove(TaskModel.path, t.path),
        _set_or_remove(TaskModel.naming, t.naming), TaskModel.replace.set(t.replace),
        _set_or_remove(TaskModel.meta_id, meta_id), _set_or_remove(TaskModel.meta_name, meta_name),
        _set_or_remove(TaskModel.meta_id_all, meta_filters.every_owner(meta_id)),
        _set_or_remove(TaskModel.meta_name_all, meta_filters.every_owner(meta_name)),
        TaskModel.search.set(f"{t.filename} {t.url} {meta_filters.search_words(t.metadata)}".lower().rstrip()),
    ]


def _this_run(task: Task) -> Condition:
    return (TaskModel.state == _DOWNLOADING) & (TaskModel.run == task.run)


def _all(conds: Sequence[Condition]) -> Condition | None:
    if not conds:
        return None
    out = conds[0]
    for cond in conds[1:]:
        out = out & cond
    return out


class DynamoTasks(TaskRepository):
    """:class:`TaskRepository` (reads, parts, batches) plus the intention-named writes."""

    def __init__(self, waiting: WaitingOwners | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        super().__init__(waiting, clock)

    def _now(self) -> int:
        return self.clock.now_ms()

    # -- reads the services need beyond TaskRepository's ----------------------------------
    def ids_by_url(self, dedupe: str, limit: int) -> list[str]:
        """Ids of the tasks with this dedupe key (chalicelib/domain/urls.py), newest first."""
        return [hit.id for hit in TaskModel.by_url.query(dedupe, scan_index_forward=False, limit=limit)]

    def in_state_of(self, owner: str, state: TaskState) -> list[Task]:
        """Every task of ``owner`` in ``state`` (a Query on the by-owner-state index)."""
        return [to_task(m) for m in TaskModel.by_owner_state.query(f"{owner}#{state.value}")]

    def expired(self, now_s: int, limit: int) -> list[str]:
        """Ids of finished tasks whose history retention ran out before ``now_s``."""
        return [key.id for key in TaskModel.by_expiry.query(SWEEP, ExpiryIndex.expires < now_s, limit=limit)]

    def delete_expired(self, task_id: str, now_s: int) -> bool:
        """Delete the task if it is still finished and marked expired before ``now_s``."""
        try:
            TaskModel(task_id).delete(
                condition=(TaskModel.sweep == SWEEP)
                & (TaskModel.expires < datetime.fromtimestamp(now_s, tz=UTC))
                & TaskModel.state.is_in(*(s.value for s in FINISHED))
            )
        except DeleteError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    # -- transfer: planning ---------------------------------------------------------------
    def resume_run(self, task: Task) -> Task | None:
        """A new run of an unchanged source: the previous run's lanes are fenced off, so the
        lane step counters start over. Fenced by downloading and run."""
        return self.update(
            task,
            [
                TaskModel.lane_steps.set({}),
                TaskModel.lane_tokens.set({}),
                TaskModel.lane_bytes.set({}),
                TaskModel.lane_speed.set({}),
                TaskModel.phase.set("transferring"),
                TaskModel.heartbeat.set(self._now()),
            ],
            _this_run(task),
        )

    def begin_generation(self, task: Task, plan: GenerationPlan) -> Task | None:
        """Store a new plan as generation ``task.gen + 1``; fenced by downloading, run, gen and
        ``filename_locked`` (a duplicate start message plans no second generation, and a name
        the user fixed meanwhile is not overwritten)."""
        return self.update(
            task,
            [
                TaskModel.filename.set(plan.filename),
                TaskModel.key.set(plan.key),
                _set_or_remove(TaskModel.size, plan.size),
                _set_or_remove(TaskModel.content_type, plan.content_type or None),
                _set_or_remove(TaskModel.validator, plan.validator or None),
                TaskModel.resumable.set(plan.resumable),
                TaskModel.part_size.set(plan.part_size),
                _set_or_remove(TaskModel.part_count, plan.part_count or None),
                _set_or_remove(TaskModel.upload_id, plan.upload_id or None),
                TaskModel.gen.set(task.gen + 1),
                TaskModel.parts_done.set(0),
                TaskModel.bytes_done.set(0),
                TaskModel.lane_bytes.set({}),
                TaskModel.lane_speed.set({}),
                TaskModel.lane_steps.set({}),
                TaskModel.lane_tokens.set({}),
                TaskModel.finalizing.remove(),
                _set_or_remove(TaskModel.note, plan.note or None),
                TaskModel.phase.set("transferring"),
                TaskModel.heartbeat.set(self._now()),
            ],
            # ...nor a key a rename (metadata, path, naming) changed meanwhile.
            _this_run(task) & (TaskModel.gen == task.gen) & (TaskModel.filename_locked == task.filename_locked)
            & (TaskModel.key == task.key),
        )

    # -- transfer: lanes ------------------------------------------------------------------
    def claim_lane(self, claim: LaneClaim) -> Task | None:
        """Claim a lane message: its step and token are written if the task downloads this
        run and generation and the lane has not gone past this step (or this very message,
        same token, claims again)."""
        steps, tokens = TaskModel.lane_steps[claim.lane], TaskModel.lane_tokens[claim.lane]
        return self.update(
            Task(id=claim.task_id, owner="", url="", filename="", key=""),
            [steps.set(claim.step), tokens.set(claim.token)],
            (TaskModel.state == _DOWNLOADING)
            & (TaskModel.run == claim.run)
            & (TaskModel.gen == claim.gen)
            & (steps.does_not_exist() | (steps < claim.step) | (tokens == claim.token)),
        )

    def lane_progress(self, task: Task, lane: str, slot: str, part_bytes: int, speed: int) -> Task | None:
        """A lane's in-part bytes (under ``slot``), speed and the heartbeat; the task as it is
        now. Fenced by this run downloading, or a queue stop's hold of this generation (a stop
        lets the parts in flight finish; a pause does not)."""
        return self.update(
            task,
            [
                TaskModel.lane_bytes[slot].set(part_bytes),
                TaskModel.lane_speed[lane].set(speed),
                TaskModel.heartbeat.set(self._now()),
            ],
            _this_run(task) | ((TaskModel.phase == "held") & (TaskModel.gen == task.gen)),
        )

    def lane_done(self, task: Task, lane: str) -> None:
        """The lane ran out of parts: its speed is 0 (the others share the limit)."""
        self.update(task, [TaskModel.lane_speed[lane].set(0)])

    def stream_measured(self, task: Task, size: int, part_count: int) -> Task | None:
        """A stream read to its end: its size and part count, fenced by run and generation."""
        return self.update(
            task,
            [TaskModel.size.set(size), TaskModel.part_count.set(part_count), TaskModel.lane_speed["0"].set(0)],
            (TaskModel.run == task.run) & (TaskModel.gen == task.gen),
        )

    # -- transfer: notes ------------------------------------------------------------------
    def note_retry(self, task: Task, until_ms: int, note: str) -> Task | None:
        """A failed attempt retried later: the heartbeat is set to when (so the reconciler
        waits for it), with a note. Fenced by this run downloading."""
        return self.update(task, [TaskModel.heartbeat.set(until_ms), TaskModel.note.set(note)], _this_run(task))

    def note_waiting(self, task: Task, note: str) -> Task | None:
        """Waiting for a connection to the host: the note and a fresh heartbeat (this run)."""
        return self.update(task, [TaskModel.note.set(note), TaskModel.heartbeat.set(self._now())], _this_run(task))

    def clear_note(self, task: Task, note: str) -> None:
        """Remove the note if it is still ``note``."""
        self.update(task, [TaskModel.note.remove()], TaskModel.note == note)

    def mark_slow(self, task: Task, since: int) -> None:
        """Slower than the minimum speed since ``since`` (unless already marked); this run."""
        self.update(task, [TaskModel.slow_since.set(since)], _this_run(task) & TaskModel.slow_since.does_not_exist())

    def renew_slow(self, task: Task, since: int) -> None:
        """Still slow, nobody waits: count again from ``since`` (if the mark is unchanged)."""
        self.update(
            task, [TaskModel.slow_since.set(since)], _this_run(task) & (TaskModel.slow_since == task.slow_since)
        )

    def clear_slow(self, task: Task) -> None:
        """Fast enough again (this run)."""
        self.update(task, [TaskModel.slow_since.remove()], _this_run(task))

    # -- transfer: finishing --------------------------------------------------------------
    def claim_finalize(self, task: Task, token: str) -> Task | None:
        """Claim the finalisation of generation ``task.gen`` with ``token`` (once)."""
        return self.update(
            task,
            [TaskModel.finalizing.set(token), TaskModel.phase.set("finalizing"), TaskModel.heartbeat.set(self._now())],
            (TaskModel.state == _DOWNLOADING) & (TaskModel.gen == task.gen) & TaskModel.finalizing.does_not_exist(),
        )

    def release_finalize(self, task: Task, token: str) -> None:
        """Let go of the finalisation claimed with ``token`` (a retry may finish the job)."""
        self.update(
            task, [TaskModel.finalizing.remove(), TaskModel.phase.set("transferring")], TaskModel.finalizing == token
        )

    def complete(self, task: Task, token: str | None, expires: datetime | None, actor: str) -> Task | None:
        """Downloading -> completed: the finalisation claimed with ``token``, or (None) a single
        PutObject of this run and generation."""
        fence = (TaskModel.finalizing == token) if token is not None else (
            (TaskModel.run == task.run) & (TaskModel.gen == task.gen)
        )
        now = self._now()
        return self.transition(
            task, [TaskState.DOWNLOADING], TaskState.COMPLETED,
            [
                TaskModel.finished_at.set(now), TaskModel.phase.remove(), TaskModel.finalizing.remove(),
                TaskModel.lane_bytes.set({}), TaskModel.lane_speed.set({}), TaskModel.error.remove(),
                TaskModel.parts_done.set(task.part_count or 1), TaskModel.bytes_done.set(task.size or 0),
                TaskModel.actor.set(actor), *_marks(expires),
            ],
            fence,
        )

    def fail(
        self, task: Task, reason: str, expires: datetime | None, actor: str, forget_upload: bool = False
    ) -> Task | None:
        """Downloading -> failed with ``reason`` (this run); ``forget_upload``: the multipart
        upload is completed and gone, so a retry plans a new one."""
        gone = [TaskModel.upload_id.remove()] if forget_upload else []
        return self.transition(
            task, [TaskState.DOWNLOADING], TaskState.FAILED,
            [
                TaskModel.error.set(reason), TaskModel.finished_at.set(self._now()), TaskModel.phase.remove(),
                TaskModel.finalizing.remove(), TaskModel.lane_speed.set({}), TaskModel.actor.set(actor),
                *_marks(expires), *gone,
            ],
            TaskModel.run == task.run,
        )

    def restart_run(self, task: Task, reason: str, actor: str) -> Task | None:
        """Plan afresh: a new run, one more restart, the reason as its note (this run and gen)."""
        return self.update(
            task,
            [
                TaskModel.run.add(1),
                TaskModel.restarts.add(1),
                TaskModel.note.set(reason),
                TaskModel.phase.set("starting"),
                TaskModel.heartbeat.set(self._now()),
                TaskModel.actor.set(actor),
            ],
            _this_run(task) & (TaskModel.gen == task.gen),
        )

    # -- the dispatcher and the reconciler ------------------------------------------------
    def start_download(self, task: Task, actor: str) -> Task | None:
        """Queued -> downloading with a new run (a note left by a hold is dropped)."""
        held = [TaskModel.note.remove()] if task.phase == "held" else []
        now = self._now()
        return self.transition(
            task, [TaskState.QUEUED], TaskState.DOWNLOADING,
            [
                TaskModel.run.add(1), TaskModel.phase.set("starting"),
                TaskModel.started_at.set(TaskModel.started_at | now), TaskModel.heartbeat.set(now),
                TaskModel.lane_bytes.set({}), TaskModel.lane_speed.set({}), TaskModel.error.remove(),
                TaskModel.slow_since.remove(), TaskModel.actor.set(actor), *held,
            ],
        )

    def send_back(self, task: Task, actor: str, note: str, order: int | None = None) -> Task | None:
        """Downloading -> queued (phase ``held``) with a new run, unless it is finalising;
        ``order``: behind its owner's other downloads (and no longer marked slow)."""
        extra = [] if order is None else [
            TaskModel.order.set(order), TaskModel.rank.set(rank(task.priority, order)), TaskModel.slow_since.remove(),
        ]
        return self.transition(
            task, [TaskState.DOWNLOADING], TaskState.QUEUED,
            [TaskModel.run.add(1), TaskModel.phase.set("held"), TaskModel.note.set(note),
             TaskModel.lane_speed.set({}), TaskModel.actor.set(actor), *extra],
            (TaskModel.run == task.run) & TaskModel.finalizing.does_not_exist(),
        )

    def revive(self, task: Task, counted: bool) -> Task | None:
        """A stalled download re-dispatched: a new run (one more restart if ``counted``)."""
        return self.update(
            task,
            [TaskModel.restarts.add(1 if counted else 0), TaskModel.run.add(1), TaskModel.phase.set("starting"),
             TaskModel.finalizing.remove(), TaskModel.lane_speed.set({}), TaskModel.heartbeat.set(self._now())],
            _this_run(task),
        )

    # -- the API --------------------------------------------------------------------------
    def edit(self, task: Task, edit: TaskEdit) -> Task | None:
        """Change priority, speed limit and naming (filename, metadata, path, naming template,
        key) as one write, fenced by what each change relies on: the order for the rank; for a
        new key or metadata, a completed task's state and key (its object was copied there),
        or an unstarted one's upload and state."""
        actions: list[Action] = [TaskModel.actor.set(edit.actor)]
        conds: list[Condition] = []
        if edit.priority is not None:
            actions += [TaskModel.priority.set(edit.priority), TaskModel.rank.set(rank(edit.priority, task.order))]
            conds.append(TaskModel.order == task.order)  # the rank is made of both
        if edit.renamed is not None:
            actions += _naming_actions(edit.renamed)
        if edit.fence == "completed":
            conds += [TaskModel.state == TaskState.COMPLETED.value, TaskModel.key == task.key]
        elif edit.fence == "unstarted":
            conds += [
                TaskModel.upload_id.does_not_exist(),
                TaskModel.state == task.state.value,
                TaskModel.key == task.key,
            ]
            if task.state == TaskState.DOWNLOADING:
                conds.append(TaskModel.phase == "starting")
        elif edit.fence == "transferring":
            conds += [TaskModel.state == task.state.value, TaskModel.finalizing.does_not_exist()]
        if edit.set_speed_limit:
            actions.append(_set_or_remove(TaskModel.speed_limit, edit.speed_limit))
        return self.update(task, actions, _all(conds))

    def move_stored(self, task: Task, target: str) -> Task | None:
        """The object of a download renamed during its transfer now is at ``target``: its key,
        if it still is to move there from ``task.key``."""
        return self.update(task, [TaskModel.key.set(target), TaskModel.target.remove()],
                           (TaskModel.target == target) & (TaskModel.key == task.key))

    def reorder(self, task: Task, order: int, actor: str) -> Task | None:
        """A new queue order, if the task is still queued or paused at its priority."""
        return self.update(
            task,
            [TaskModel.order.set(order), TaskModel.rank.set(rank(task.priority, order)), TaskModel.actor.set(actor)],
            (TaskModel.priority == task.priority)
            & TaskModel.state.is_in(TaskState.QUEUED.value, TaskState.PAUSED.value),
        )

    def place(self, task: Task, priority: int, order: int, actor: str) -> Task | None:
        """A new priority and queue order (a reorder of the queue), if the task is still queued
        or paused where it was (same priority and order)."""
        return self.update(
            task,
            [TaskModel.priority.set(priority), TaskModel.order.set(order), TaskModel.rank.set(rank(priority, order)),
             TaskModel.actor.set(actor)],
            (TaskModel.priority == task.priority) & (TaskModel.order == task.order)
            & TaskModel.state.is_in(TaskState.QUEUED.value, TaskState.PAUSED.value),
        )

    def act(self, task: Task, change: ActionChange) -> Task | None:
        """A user's pause/resume/cancel/retry: ``change.sources`` -> ``change.target`` (this run)."""
        extra: list[Action] = [TaskModel.actor.set(change.actor)]
        if change.new_run:
            extra += [TaskModel.run.add(1), TaskModel.lane_speed.set({}), TaskModel.phase.remove()]
        if change.finished:
            extra += [TaskModel.finished_at.set(self._now()), TaskModel.upload_id.remove(), *_marks(change.expires)]
        if change.reopen:
            extra += [TaskModel.error.remove(), TaskModel.finished_at.remove()]
        if change.fresh:
            extra += [
                TaskModel.restarts.set(0),
                TaskModel.note.remove(),
                TaskModel.expires.remove(),
                TaskModel.sweep.remove(),
            ]
        return self.transition(task, change.sources, change.target, extra, TaskModel.run == task.run)

    def cancel_for_delete(self, task: Task, actor: str) -> Task | None:
        """An active task about to be deleted: cancelled first (a new run stops its workers)."""
        return self.transition(
            task, [task.state], TaskState.CANCELLED,
            [TaskModel.run.add(1), TaskModel.actor.set(actor)], TaskModel.run == task.run,
        )
