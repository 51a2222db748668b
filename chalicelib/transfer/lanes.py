"""Lanes: one part at a time, the lane passed on as soon as the part is in memory.

A lane message is *claimed* by a conditional write of its step and token on the task: a
redelivery of the same message (same token) may claim again, a duplicate copy of a
passed-on message (other token) may not. A redelivery or retry whose lane has moved on
meanwhile (its worker died, or S3 refused the upload, after passing the lane on) stores just
its own part if it is still missing (:meth:`Lanes.catch_up`). So duplicate deliveries cost
at most one extra part, and a worker killed mid-part loses only that part.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from botocore.exceptions import BotoCoreError, ClientError

from ..adapters.origin import OriginError, SourceChanged
from ..adapters.s3 import UploadGone
from ..adapters.urlguard import BlockedUrl
from ..domain import planning
from ..domain.restarts import Restart
from ..domain.states import TaskState
from ..domain.task import Task
from ..engine.hostslots import Lease
from ..settings.store import EngineSettings
from .context import PART_SECONDS, Context
from .limits import Limits
from .messages import LaneMessage, body
from .outcomes import Outcomes
from .ports import LaneClaim
from .progress import BUFFERS, LaneProgress, progress_slot

log = logging.getLogger("haul.transfer")


@dataclass
class _Step:
    """One lane message being handled: its first part, the rest, whether that was passed on."""

    msg: LaneMessage
    number: int
    rest: list[int]
    passed_on: bool = False


class Lanes:
    def __init__(self, ctx: Context, outcomes: Outcomes, limits: Limits) -> None:
        self.ctx = ctx
        self.outcomes = outcomes
        self.limits = limits

    def claim(self, msg: LaneMessage) -> Task | None:
        return self.ctx.repo.claim_lane(LaneClaim(msg.task, msg.run, msg.gen, msg.lane, msg.step, msg.token))

    def lane(self, msg: LaneMessage, first_delivery: bool = False) -> None:
        """Fetch the lane's next part, pass the lane on, then upload and record the part.

        The lane is passed on as soon as the part is in memory, so the next part's fetch
        overlaps this part's upload: the origin connection never waits on S3. The price is
        that the message of a part being uploaded is no longer the lane's newest, so its claim
        would be refused on a redelivery; :meth:`catch_up` takes over there.
        """
        task = self.claim(msg)
        if task is None:
            # A copy seen for the first time is a duplicate of a message being handled (or
            # handled) elsewhere: drop it. A redelivery or retry may be of a part whose worker
            # passed the lane on and then died, or failed to upload it: that part is nobody
            # else's to fetch.
            if not first_delivery or msg.attempt or msg.catch_up:
                self.catch_up(msg)
            return
        parts = msg.numbers()
        step = _Step(msg, parts[0], parts[1:])
        # Only a message seen before (a redelivery or a retry) can find its part recorded
        # already; a duplicate that slips through costs one fetch, and its record is refused.
        fresh = first_delivery and not msg.attempt
        counted: Task | None = None
        if fresh or not self.ctx.repo.has_part(task.id, task.gen, step.number):
            slot = progress_slot(msg.lane, msg.step)
            moved, counted = self.part(
                task, msg, step.number, self.ctx.settings.get(), slot, lambda: self._pass_on(step)
            )
            if not moved:
                return
        self._pass_on(step)
        if not step.rest:
            self.ctx.repo.lane_done(task, msg.lane)
            self.outcomes.finalize(task)
        elif counted is not None and counted.part_count and counted.parts_done >= counted.part_count:
            # The lane's end was passed on before this part was in: it may have found the
            # parts incomplete, so whoever records the last part finishes the task.
            self.outcomes.finalize(counted)

    def _pass_on(self, step: _Step) -> None:
        if step.rest and not step.passed_on:
            step.passed_on = True
            after = replace(step.msg, step=step.msg.step + 1, token=uuid.uuid4().hex,
                            parts=planning.to_runs(step.rest), attempt=0)
            self.ctx.queue.send(body(after))

    def catch_up(self, msg: LaneMessage) -> None:
        """Store the part of a message whose lane has moved on (see :meth:`lane`), if this run
        still wants it and nobody has stored it; then finish the task if that was the last."""
        repo = self.ctx.repo
        task = repo.get(msg.task)
        if (
            task is None or task.state != TaskState.DOWNLOADING
            or task.run != msg.run or task.gen != msg.gen
        ):
            return
        number = msg.numbers()[0]
        if not repo.has_part(task.id, task.gen, number):
            alone = replace(msg, parts=planning.to_runs([number]), catch_up=True)
            moved, _ = self.part(task, alone, number, self.ctx.settings.get(), f"{msg.lane}r", None)
            if not moved:
                return
            log.info("task %s: part %d stored by a redelivery (its lane had moved on)", task.id, number)
        self.outcomes.finalize(task)

    def part(
        self, task: Task, msg: LaneMessage, number: int, settings: EngineSettings, slot: str,
        fetched: Callable[[], None] | None,
    ) -> tuple[bool, Task | None]:
        """Move one part, handling what can go wrong: (True, the task as counted) once the
        part is stored, (False, None) when a retry, a wait, a restart or a failure took over.

        ``fetched`` runs once the part is in memory, before its upload."""
        got, lease = self.limits.host_lease(task, msg.lane, settings)
        if not got:
            self.limits.await_host(task, msg, settings)
            return False, None
        late = False

        def after_fetch() -> None:
            nonlocal late
            late = True
            if fetched is not None:
                fetched()

        outcomes = self.outcomes
        try:
            counted = self.move_part(task, msg.lane, number, lease, msg.lanes, slot, after_fetch)
        except OriginError as exc:
            outcomes.retry_or_fail(task, msg, exc, settings)
        except BlockedUrl as exc:  # a redirect to a place Haul may not fetch from
            outcomes.fail(task, str(exc))
        except SourceChanged as exc:
            outcomes.restart(task, Restart.SOURCE_CHANGED, str(exc))
        except UploadGone:
            outcomes.upload_gone(task)
        except (ClientError, BotoCoreError) as exc:
            # Once the lane has been passed on, only this part is left to retry.
            retry = replace(msg, parts=planning.to_runs([number]), catch_up=True) if late else msg
            outcomes.retry_or_fail(task, retry, OriginError(f"S3: {exc}", retryable=True), settings)
        else:
            return True, counted
        return False, None

    def move_part(
        self, task: Task, lane: str, number: int, lease: Lease | None = None, lanes: int = 0,
        slot: str | None = None, fetched: Callable[[], None] | None = None,
    ) -> Task | None:
        """Fetch one part (holding ``lease``, a host slot, while it reads), upload it, record
        it; the task as counted (None for a duplicate)."""
        assert task.size is not None and task.part_size is not None and task.upload_id
        ctx = self.ctx
        first, last = planning.PartPlan(task.size, task.part_size, task.part_count or 1).bounds(number)
        view = BUFFERS.get(last - first + 1)
        # A part must be read within PART_SECONDS whatever the limit becomes meanwhile.
        pacer, adopt = self.limits.pacer(task, lanes or len(task.lane_speed) or 1, len(view) / PART_SECONDS, lease)
        progress = LaneProgress(ctx.repo, task, lane, ctx.progress_interval, ctx.clock.monotonic,
                                on_flush=adopt, slot=slot)
        began = ctx.clock.monotonic()
        try:
            if last >= first:
                ctx.origin.fetch_range(task.url, task.headers, first, last, task.validator, task.size, view,
                                       progress, pacer)
        finally:
            if lease is not None:
                lease.release()
        got = ctx.clock.monotonic()
        if fetched is not None:
            fetched()
        passed = ctx.clock.monotonic()
        uploaded = ctx.store.upload_part(task.key, task.upload_id, number, view)
        stored = ctx.clock.monotonic()
        counted = ctx.repo.record_part(task, task.gen, slot or lane, uploaded, len(view))
        log.debug(
            "task %s: part %d (lane %s): fetched in %.2f s, passed on in %.2f, uploaded in %.2f, recorded in %.2f",
            task.id, number, lane, got - began, passed - got, stored - passed, ctx.clock.monotonic() - stored,
        )
        return counted
