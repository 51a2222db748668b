"""Streams: an origin without byte ranges is read once, in order, into parts; a stream
cannot resume, so one that cannot finish within its invocation fails, saying why."""

from __future__ import annotations

from dataclasses import dataclass

from ..adapters.origin import OriginError
from ..adapters.s3 import UploadGone
from ..adapters.urlguard import BlockedUrl
from ..domain import planning
from ..domain.restarts import Restart, stream_seconds, stream_verdict
from ..domain.task import Task
from ..engine.hostslots import Lease
from ..settings.store import EngineSettings
from .context import INVOCATION_SECONDS, Context
from .limits import Limits
from .messages import StreamMessage
from .outcomes import Outcomes
from .ports import LaneClaim
from .progress import BUFFERS, LaneProgress


@dataclass
class _Filling:
    """Where the stream is: the part being filled, its bytes so far, the bytes stored."""

    view: memoryview
    number: int = 1
    filled: int = 0
    total: int = 0


class Streams:
    def __init__(self, ctx: Context, outcomes: Outcomes, limits: Limits) -> None:
        self.ctx = ctx
        self.outcomes = outcomes
        self.limits = limits

    def stream(self, msg: StreamMessage, deadline: float | None = None) -> None:
        """Read the whole body, in order, into parts; give up at ``deadline`` (monotonic
        seconds; by default one full invocation from now)."""
        task = self.ctx.repo.claim_lane(LaneClaim(msg.task, msg.run, msg.gen, "0", 1, msg.token))
        if task is None:
            return
        settings = self.ctx.settings.get()
        if task.parts_done:
            # A stream cannot resume: the previous attempt's parts are worthless now.
            self.outcomes.restart(task, Restart.STREAM_INTERRUPTED, "the stream was interrupted; restarting from zero")
            return
        assert task.upload_id
        got, lease = self.limits.host_lease(task, "s", settings)
        if not got:
            self.limits.await_host(task, msg, settings)
            return
        try:
            began = self.ctx.clock.monotonic()
            allowed = (deadline if deadline is not None else began + stream_seconds(INVOCATION_SECONDS)) - began
            self._body(task, msg, settings, lease, began, allowed)
        finally:
            if lease is not None:
                lease.release()

    def _body(
        self, task: Task, msg: StreamMessage, settings: EngineSettings, lease: Lease | None,
        began: float, allowed: float,
    ) -> None:
        try:
            at = self._read(task, settings, lease, began, allowed)
        except OriginError as exc:
            self.outcomes.retry_or_fail(task, msg, exc, settings)
            return
        except BlockedUrl as exc:
            self.outcomes.fail(task, str(exc))
            return
        except UploadGone:
            self.outcomes.upload_gone(task)
            return
        if at is None:
            return
        if task.size is not None and at.total != task.size:
            announced = OriginError(f"the origin sent {at.total} bytes but announced {task.size}", retryable=True)
            self.outcomes.retry_or_fail(task, msg, announced, settings)
            return
        finished = self.ctx.repo.stream_measured(task, at.total, at.number)
        if finished is not None:
            self.outcomes.finalize(finished)

    def _read(
        self, task: Task, settings: EngineSettings, lease: Lease | None, began: float, allowed: float
    ) -> _Filling | None:
        """Read the body into parts; where it ended (``number`` the last part), or None when
        the task failed (too many parts, too slow to finish in time)."""
        pacer, adopt = self.limits.pacer(task, 1, 0.0, lease)
        progress = LaneProgress(self.ctx.repo, task, "0", self.ctx.progress_interval, self.ctx.clock.monotonic,
                                on_flush=adopt)
        at = _Filling(BUFFERS.get(planning.stream_part_size(1, settings.part_size)))
        for chunk in self.ctx.origin.stream(task.url, task.headers, pacer):
            self._take(task, settings, at, chunk, progress)
            progress(len(chunk))
            if at.number > planning.MAX_PARTS:
                self.outcomes.fail(task, "the stream is larger than S3's 10,000 parts can hold")
                return None
            late = stream_verdict(self.ctx.clock.monotonic() - began, allowed, at.total + at.filled, task.size)
            if late is not None:
                self.outcomes.fail(task, late)
                return None
        if at.filled or at.number == 1:
            self._store(task, at.number, at.view, at.filled)
            at.total += at.filled
        else:
            at.number -= 1
        return at

    def _take(self, task: Task, settings: EngineSettings, at: _Filling, chunk: bytes, progress: LaneProgress) -> None:
        """Copy ``chunk`` into the part being filled, storing each part that fills up."""
        offset = 0
        while offset < len(chunk):
            take = min(len(at.view) - at.filled, len(chunk) - offset)
            at.view[at.filled : at.filled + take] = chunk[offset : offset + take]
            at.filled += take
            offset += take
            if at.filled == len(at.view):
                self._store(task, at.number, at.view, at.filled)
                at.total += at.filled
                at.number, at.filled = at.number + 1, 0
                progress.new_part()
                at.view = BUFFERS.get(planning.stream_part_size(at.number, settings.part_size))

    def _store(self, task: Task, number: int, view: memoryview, filled: int) -> None:
        assert task.upload_id
        uploaded = self.ctx.store.upload_part(task.key, task.upload_id, number, view[:filled])
        self.ctx.repo.record_part(task, task.gen, "0", uploaded, filled)
