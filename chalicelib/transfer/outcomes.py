"""How a transfer ends or goes round again: finalising the upload exactly once, completing,
failing, restarting (a new generation), retrying after a failed attempt, dead letters."""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..activity.log import ENGINE
from ..adapters.origin import OriginError
from ..adapters.s3 import UploadGone
from ..domain import deadletters
from ..domain.restarts import Restart, decide_restart
from ..domain.states import TaskState
from ..domain.task import Task
from ..domain.urls import redact
from ..engine.retention import expiry
from ..settings.store import EngineSettings
from .context import Context
from .messages import LaneMessage, Message, StartMessage, StreamMessage, body

log = logging.getLogger("haul.transfer")


class Outcomes:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # -- finish ---------------------------------------------------------------------------
    def finalize(self, task: Task) -> None:
        """Complete the multipart upload exactly once, verify it, mark the task completed.

        Every lane calls this when it runs out of parts; only the call that finds every part
        recorded goes on (the last lane to record one always does: its own write precedes its
        count), and of those only the one that claims the finalisation.
        """
        repo = self.ctx.repo
        if not task.part_count or repo.count_parts(task.id, task.gen) < task.part_count:
            return
        token = uuid.uuid4().hex
        claimed = repo.claim_finalize(task, token)
        if claimed is None:
            return
        try:
            self._complete(claimed, token)
        except (ClientError, BotoCoreError):
            # Let go of the claim, so that the redelivery of this message (the worker reports
            # the failure) can finish the job, instead of the task waiting in "finalizing"
            # for the reconciler's stall timeout.
            repo.release_finalize(claimed, token)
            raise

    def _complete(self, claimed: Task, token: str) -> None:
        assert claimed.upload_id and claimed.size is not None and claimed.part_count
        store = self.ctx.store
        parts = list(self.ctx.repo.iter_parts(claimed.id, claimed.gen))
        try:
            store.complete(claimed.key, claimed.upload_id, parts)
        except UploadGone:
            if store.size(claimed.key) is None:
                # Not completed by an earlier attempt either: S3 expired the upload.
                self.upload_gone(claimed)
                return
            # Completed by an earlier attempt that died before it could say so.
        # From here on the multipart upload is completed, so it is gone: a failure forgets it,
        # and a retry plans a new one instead of "resuming" into nothing.
        stored = store.size(claimed.key)
        if stored != claimed.size:
            if stored is not None:
                store.delete(claimed.key)  # a wrong file is worse than none
            self.fail(claimed, f"the stored object has {stored} bytes, the source {claimed.size}", forget_upload=True)
            return
        if claimed.checksum:
            algorithm, _, expected = claimed.checksum.partition(":")
            digest = hashlib.new(algorithm)
            for chunk in store.read(claimed.key):
                digest.update(chunk)
            if not self.checksum_ok(claimed, digest.hexdigest(), forget_upload=True):
                return
        self.completed(claimed, token)

    def checksum_ok(self, task: Task, got: str, forget_upload: bool = False) -> bool:
        """Whether the stored file's digest ``got`` is the task's checksum; if not, the file is
        deleted and the task failed, saying both."""
        algorithm, _, expected = (task.checksum or "").partition(":")
        if got == expected.lower():
            return True
        self.ctx.store.delete(task.key)
        self.fail(task, f"checksum mismatch: expected {algorithm}:{expected}, got {algorithm}:{got}",
                  forget_upload=forget_upload)
        return False

    def completed(self, task: Task, token: str | None) -> None:
        """Mark the stored task completed: the finalisation claimed with ``token``, or (None) a
        single PutObject of this run and generation. Renamed during the transfer (``target``):
        its object moves first (a finalisation claim fences off later renames); renamed while
        a single PutObject stored it: it moves right after."""
        if task.target:
            task = self.ctx.on_stored(task)
        done = self.ctx.repo.complete(task, token, expiry(self.ctx.settings.get(), self.ctx.now_ms()), ENGINE)
        if done is not None:
            log.info("task %s: downloading -> completed (%s bytes)", done.id, done.size)
            self.slot_freed()
            if done.target:
                self.ctx.on_stored(done)

    def fail(self, task: Task, reason: str, forget_upload: bool = False) -> None:
        expires = expiry(self.ctx.settings.get(), self.ctx.now_ms())
        failed = self.ctx.repo.fail(task, redact(reason)[:1000], expires, ENGINE, forget_upload)
        if failed is not None:
            log.info("task %s: downloading -> failed: %s", task.id, reason)
            self.slot_freed()

    def slot_freed(self) -> None:
        """A download finished: a kick. Where starts chain and this thread handles a work
        message, the round keeps one of its starts for this thread (no start message, no
        hand-off through the queue); Transfer.handle runs it once this message is done."""
        hand = self.ctx.handoff
        if self.ctx.chain_starts and hand.open and hand.task is None:
            hand.task = self.ctx.engine.kick_and_keep()
        else:
            self.ctx.engine.kick()

    # -- again ----------------------------------------------------------------------------
    def restart(self, task: Task, kind: Restart, reason: str, fresh: bool = True) -> None:
        """Plan the task afresh (a new generation), e.g. because the source changed; or fail it
        when it has started over as often as ``retry.max_restarts`` allows (every kind counts)."""
        decision = decide_restart(kind, task.restarts, self.ctx.settings.get().max_restarts, reason)
        if not decision.allowed:
            self.fail(task, decision.message)
            return
        moved = self.ctx.repo.restart_run(task, reason, ENGINE)
        if moved is not None:
            log.info("task %s: restarting: %s", task.id, reason)
            self.ctx.queue.send(body(StartMessage(task.id, moved.run, fresh=fresh, reason=reason)))

    def upload_gone(self, task: Task) -> None:
        """The multipart upload vanished under a running task: it was cancelled or re-planned
        (then this worker is merely late), or S3 expired it (the bucket aborts uploads left
        unfinished for days, e.g. a long pause) — then only a fresh start can go on."""
        now = self.ctx.repo.get(task.id)
        if (
            now is not None and now.state == TaskState.DOWNLOADING and now.run == task.run
            and now.gen == task.gen and now.upload_id == task.upload_id
        ):
            self.restart(now, Restart.UPLOAD_EXPIRED, "the unfinished upload had expired in S3; starting over")

    def retry_or_fail(self, task: Task, msg: Message, exc: OriginError, settings: EngineSettings) -> None:
        attempt = msg.attempt + 1
        policy = settings.retry
        if not exc.retryable or policy.exhausted(attempt):
            tries = f" after {attempt} attempts" if exc.retryable else ""
            self.fail(task, f"{exc}{tries}")
            return
        delay = policy.delay(attempt, exc.retry_after, self.ctx.rand)
        alive = self.ctx.repo.note_retry(
            task, self.ctx.now_ms() + int(delay * 1000), f"retrying in {delay:.0f} s: {exc}"
        )
        if alive is None:
            return
        log.info("task %s: attempt %d failed (%s); retrying in %.1f s", task.id, attempt, exc, delay)
        again: StartMessage | LaneMessage | StreamMessage = replace(msg, attempt=attempt)
        # SQS delays by whole seconds: round up, so a retry never comes before Retry-After.
        self.ctx.queue.send(body(again), delay=math.ceil(delay))

    def dead_letter(self, raw: Any, receive_count: str = "?") -> deadletters.Verdict:
        """A work message that kept failing (the dead-letter queue's handler): fail its task
        with a reason, but only if it belongs to the task's current run and generation; a
        message of an older run, or of a task that moved on, is dropped, and one that names
        no task (a dispatcher kick) is logged and dropped, never retried."""
        kind = raw.get("kind", "work") if isinstance(raw, dict) else "work"
        task_id = deadletters.task_of(raw)
        if task_id is None:
            log.warning("dead letter without a task (a %s message): dropped: %.200s", kind, raw)
            return deadletters.Verdict.NO_TASK
        task = self.ctx.repo.get(task_id)
        found = deadletters.verdict(
            raw, task.state if task else None, task.run if task else 0, task.gen if task else 0
        )
        if found != deadletters.Verdict.FAIL or task is None:
            log.info("dead letter of task %s (a %s message of run %s) is out of date: dropped",
                     task_id, kind, raw.get("run"))
            return deadletters.Verdict.STALE
        self.fail(task, f"a {kind} message failed {receive_count} times in a row; see the worker logs")
        return found
