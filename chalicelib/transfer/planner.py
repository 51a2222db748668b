"""Start messages: probe the origin, then resume the plan (the source is unchanged) or plan
a new generation, and set the lanes, the stream or the single PutObject going."""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import replace

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.origin import OriginError, Probe, SourceChanged
from ..adapters.urlguard import BlockedUrl
from ..domain import planning
from ..domain.pacing import effective_limit
from ..domain.restarts import Restart
from ..domain.resume import StartDecision, resume_or_replan
from ..domain.states import TaskState
from ..domain.task import Task
from ..engine.hostslots import Lease
from ..metadata.objectmeta import object_metadata
from ..settings.store import EngineSettings
from .context import PART_SECONDS, Context
from .limits import Limits
from .messages import LaneMessage, StartMessage, StreamMessage, body
from .outcomes import Outcomes
from .ports import GenerationPlan
from .progress import BUFFERS, LaneProgress

log = logging.getLogger("haul.transfer")
STREAMED_NOTE = ("the origin does not serve byte ranges: the file is streamed in order, and an interrupted "
                 "transfer restarts from zero")


def part_size_for(task: Task, settings: EngineSettings) -> int:
    """The part size to plan with: the setting, or less under a speed limit, so that one lane
    can read a part within PART_SECONDS."""
    limit = effective_limit(task.speed_limit, settings.default_speed_limit)
    if limit <= 0:
        return settings.part_size
    return min(settings.part_size, max(planning.MIN_PART_SIZE, limit * PART_SECONDS))


def default_key(task: Task, filename: str) -> str:
    """Where a download is stored without a naming service: ``downloads/<id>/<filename>``
    (the name the user fixed, if any)."""
    return task.key if task.filename_locked else f"downloads/{task.id}/{filename}"


class Planner:
    def __init__(self, ctx: Context, outcomes: Outcomes, limits: Limits) -> None:
        self.ctx = ctx
        self.outcomes = outcomes
        self.limits = limits

    def start(self, msg: StartMessage, started: Task | None = None, *, chained: bool = False) -> None:
        """``started``: the task as the dispatcher started it, not read again: in this thread
        (``chained``, chalicelib/transfer/service.py), or as its start message carries it (on
        its first delivery). Every write that follows is fenced by the run and generation it
        names, so a copy that went stale meanwhile (paused, renamed) costs a probe, no more."""
        given = started is not None and started.id == msg.task
        task = started if given else self.ctx.repo.get(msg.task)
        if task is None or task.state != TaskState.DOWNLOADING or task.run != msg.run:
            return
        # Read afresh (one GetItem per start, not the 2 s cache): a download dispatched after a
        # change is planned with it (part size, parallel parts, speed limit), whichever worker
        # process starts it. A chained start was dispatched by this process a moment ago, with
        # the settings it has in hand (at most 2 s old): it is planned with the same.
        settings = self.ctx.settings.get() if chained and given else self.ctx.settings.current().settings
        try:
            probe = self.ctx.origin.probe(task.url, task.headers)
        except OriginError as exc:
            self.outcomes.retry_or_fail(task, msg, exc, settings)
            return
        except ValueError as exc:  # a blocked URL or redirect
            self.outcomes.fail(task, str(exc))
            return
        if resume_or_replan(task, msg.fresh, probe.ranges, probe.size, probe.validator) is StartDecision.RESUME:
            self._resume(task, settings)
        else:
            self._replan(task, msg, probe, settings)

    def _resume(self, task: Task, settings: EngineSettings) -> None:
        # A new run: the lanes of the previous one are fenced off, so their step counters
        # start over.
        resumed = self.ctx.repo.resume_run(task)
        if resumed is None:
            return
        missing = planning.missing_parts(task.part_count or 0, self.ctx.repo.part_numbers(task.id, task.gen))
        log.info("task %s: resuming, %d of %s parts missing", task.id, len(missing), task.part_count)
        self.launch(resumed, missing, settings)

    def _plan(self, task: Task, msg: StartMessage, probe: Probe, settings: EngineSettings) -> GenerationPlan:
        """The new generation's plan (its upload not started yet)."""
        filename = task.filename if task.filename_locked else probe.filename
        key = task.key if task.upload_id else self.ctx.name_key(task, filename)
        if probe.ranges and probe.size is not None:
            plan = planning.plan_parts(probe.size, part_size_for(task, settings))
            # A restart says why it happened (the source changed, the upload expired).
            part_size, part_count, resumable, note = plan.part_size, plan.count, True, msg.reason
        else:
            part_size, part_count, resumable = planning.stream_part_size(1, settings.part_size), None, False
            note = STREAMED_NOTE
        return GenerationPlan(filename, key, probe.size, probe.content_type, probe.validator, resumable,
                              part_size, part_count, None, note)

    def _replan(self, task: Task, msg: StartMessage, probe: Probe, settings: EngineSettings) -> None:
        plan = self._plan(task, msg, probe, settings)
        # A file that fits in one part is stored with one PutObject by this very message: no
        # multipart upload, no lane message, no part record (see _single).
        single = plan.resumable and plan.part_count == 1
        if not single:
            meta = object_metadata(task.id, task.metadata)
            plan = replace(plan, upload_id=self.ctx.store.start_upload(plan.key, probe.content_type, meta))
        # The generation fences off a duplicate of this start message running at the same
        # time: only one of them may plan the next generation, the other drops its upload
        # instead of leaving it open (or its parts recorded against the wrong one). A filename
        # the user fixed meanwhile (PATCH) must not be overwritten by the probe's.
        moved = self.ctx.repo.begin_generation(task, plan)
        if moved is None:
            self._lost_plan(task, msg, plan)
            return
        if task.upload_id:
            self.ctx.store.abort(task.key, task.upload_id)
            self.ctx.repo.delete_parts(task.id, below_gen=moved.gen)
        log.info("task %s: planned %s (%s bytes, %s parts of %s bytes)", task.id,
                 "ranged" if plan.resumable else "stream", probe.size, plan.part_count, plan.part_size)
        if single:
            self.single(moved, msg, settings)
        elif plan.resumable:
            self.launch(moved, list(range(1, (plan.part_count or 0) + 1)), settings)
        else:
            self.ctx.queue.send(body(StreamMessage(moved.id, moved.gen, moved.run, uuid.uuid4().hex)))

    def _lost_plan(self, task: Task, msg: StartMessage, plan: GenerationPlan) -> None:
        """Another start planned first, or the user fixed the filename or renamed it meanwhile."""
        if plan.upload_id:
            self.ctx.store.abort(plan.key, plan.upload_id)
        now = self.ctx.repo.get(task.id)
        if (
            now is not None and ((now.filename_locked and not task.filename_locked) or now.key != task.key)
            and now.run == task.run and now.gen == task.gen
        ):
            self.start(msg)  # plan again with the user's name or key

    def launch(self, task: Task, missing: list[int], settings: EngineSettings) -> None:
        if not missing:
            self.outcomes.finalize(task)
            return
        width = settings.parallel_parts
        limit = effective_limit(task.speed_limit, settings.default_speed_limit)
        if limit > 0 and task.part_size:
            # No more lanes than can each read a part within PART_SECONDS on their share.
            width = min(width, max(1, limit * PART_SECONDS // task.part_size))
        lanes = planning.split_lanes(missing, width)
        self.ctx.queue.send_many(
            body(LaneMessage(task.id, task.gen, task.run, str(index), len(lanes), 1, uuid.uuid4().hex,
                             planning.to_runs(parts)))
            for index, parts in enumerate(lanes)
        )

    # -- single: a file that fits in one part ----------------------------------------------
    def single(self, task: Task, msg: StartMessage, settings: EngineSettings) -> None:
        """Fetch the whole file into a part buffer, store it with one PutObject, complete the
        task: the start message does it all. It holds a host slot while it reads, as a lane
        does; a failure goes through the start message again (a retry probes and plans anew,
        which for one part costs nothing more)."""
        got, lease = self.limits.host_lease(task, "0", settings)
        if not got:
            self.limits.await_host(task, msg, settings)
            return
        try:
            self._fetch_and_put(task, lease)
        except OriginError as exc:
            self.outcomes.retry_or_fail(task, msg, exc, settings)
        except BlockedUrl as exc:
            self.outcomes.fail(task, str(exc))
        except SourceChanged as exc:
            self.outcomes.restart(task, Restart.SOURCE_CHANGED, str(exc))
        except (ClientError, BotoCoreError) as exc:
            self.outcomes.retry_or_fail(task, msg, OriginError(f"S3: {exc}", retryable=True), settings)

    def _fetch_and_put(self, task: Task, lease: Lease | None) -> None:
        assert task.size is not None
        ctx = self.ctx
        view = BUFFERS.get(task.size)
        pacer, adopt = self.limits.pacer(task, 1, len(view) / PART_SECONDS, lease)
        progress = LaneProgress(ctx.repo, task, "0", ctx.progress_interval, ctx.clock.monotonic, on_flush=adopt)
        try:
            if task.size:
                ctx.origin.fetch_range(task.url, task.headers, 0, task.size - 1, task.validator, task.size, view,
                                       progress, pacer)
        finally:
            if lease is not None:
                lease.release()
        ctx.store.put(task.key, view, task.content_type, object_metadata(task.id, task.metadata))
        if task.checksum and not self.outcomes.checksum_ok(
            task, hashlib.new(task.checksum.partition(":")[0], view).hexdigest()
        ):
            return
        self.outcomes.completed(task, None)
