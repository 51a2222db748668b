"""Scheduled jobs: define, list, change, delete, run now, the tick and the run itself.

- :meth:`JobService.tick` (every minute: ``@app.schedule`` in AWS, the local timer locally)
  reads the due jobs from the by-due index, decides each slot (chalicelib/jobs/schedule.py,
  the job's misfire policy), claims it with a conditional write and sends one SQS message per
  run to the jobs queue. A job whose claim fails was claimed by another tick: nothing runs.
- :meth:`JobService.execute` (the jobs queue's consumer) starts the run (only from
  ``queued``: a duplicate delivery does nothing), performs the action as the job's owner
  (chalicelib/jobs/runner.py) and records the outcome. Whatever one job does, the others run:
  each run is its own message, and a run's failure is recorded, never raised.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..api.errors import Conflict, Forbidden, NotFound, ValidationFailed, field_error
from ..auth.identity import Identity, Role
from ..persistence.repository import now_ms
from .actions import BadAction, may_manage, needs_admin, parse_action
from .models import CreateJob, HistoryQuery, Job, JobRun, PatchJob, RunStatus, Trigger
from .persistence import JobStore, RunStore
from .runner import JobFailed, Runner, Skipped
from .schedule import BadSchedule, Decision, Schedule, decide

log = logging.getLogger("haul.jobs")
MAX_RESULT = 500
MAX_ERROR = 1000
MAX_JOBS_PER_USER = 100
_ID = re.compile(r"^[0-9a-f]{16}$")


def _schedule(cron: str | None, interval: int | None, timezone: str, anchor_ms: int) -> Schedule:
    try:
        return Schedule(cron=cron, interval_seconds=interval, timezone=timezone, anchor_ms=anchor_ms)
    except BadSchedule as exc:
        field = "timezone" if "time zone" in str(exc) else ("interval_seconds" if interval is not None else "cron")
        if cron is None and interval is None or cron is not None and interval is not None:
            field = "cron"
        raise field_error(field, str(exc)) from None


def _action(name: Any, params: Any) -> tuple[Any, dict[str, Any]]:
    try:
        return parse_action(name, params)
    except BadAction as exc:
        raise field_error(exc.field, str(exc)) from None


class JobService:
    def __init__(self, jobs: JobStore, runs: RunStore, runner: Runner, queue: Any,
                 identity_of: Callable[[str], Identity | None],
                 on_failure: Callable[[Job, JobRun], None] | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        self.jobs = jobs
        self.runs = runs
        self.runner = runner
        self.queue = queue
        self.identity_of = identity_of  # the job's owner as they are now (None: gone or disabled)
        self.on_failure = on_failure
        self.clock = clock

    # -- definitions ---------------------------------------------------------------------------
    def create(self, who: Identity, req: CreateJob) -> Job:
        action, params = _action(req.action, req.params)
        if needs_admin(action, params) and not who.is_admin:
            raise Forbidden(f"only an admin may schedule {action.value}"
                            + (" for every user" if params.get("all_users") else ""))
        if len(self.jobs.owned_by(who.user_id)) >= MAX_JOBS_PER_USER:
            raise Conflict(f"you have {MAX_JOBS_PER_USER} jobs, the most one user may have")
        now = self.clock()
        schedule = _schedule(req.cron, req.interval_seconds, req.timezone, now)
        job = Job(
            id=uuid.uuid4().hex[:16], owner=who.user_id, owner_name=who.username, name=req.name,
            action=action, params=params, schedule=schedule, misfire=req.misfire, enabled=req.enabled,
            next_run=schedule.next_after(now), created_at=now, updated_at=now,
        )
        self.jobs.add(job)
        return job

    def get(self, who: Identity, job_id: str) -> Job:
        job = self.jobs.find(job_id) if _ID.match(job_id) else None
        if job is None or not may_manage(who, job.owner, job.action, job.params):
            raise NotFound(f"no job with id {job_id}")
        return job

    def visible(self, who: Identity) -> list[Job]:
        jobs = self.jobs.everyone() if who.is_admin else self.jobs.owned_by(who.user_id)
        return [j for j in jobs if may_manage(who, j.owner, j.action, j.params)]

    def patch(self, who: Identity, job_id: str, req: PatchJob) -> Job:
        job = self.get(who, job_id)
        fields = req.model_fields_set
        action, params = job.action, job.params
        if "action" in fields or "params" in fields:
            if "action" in fields and req.action is None:
                raise field_error("action", "must not be null")
            action, params = _action(req.action or job.action,
                                     req.params if "params" in fields else ({} if "action" in fields else job.params))
            if needs_admin(action, params) and not who.is_admin:
                raise Forbidden(f"only an admin may schedule {action.value}")
        schedule = job.schedule
        if fields & {"cron", "interval_seconds", "timezone"}:
            cron, interval = schedule.cron, schedule.interval_seconds
            if "cron" in fields:
                cron, interval = req.cron, None if req.cron else interval
            if "interval_seconds" in fields:
                interval, cron = req.interval_seconds, None if req.interval_seconds else cron
            schedule = _schedule(cron, interval, req.timezone or schedule.timezone, self.clock())
        now = self.clock()
        enabled = job.enabled if req.enabled is None else req.enabled
        rescheduled = schedule != job.schedule or (enabled and not job.enabled)
        changed = replace(
            job, name=req.name or job.name, action=action, params=params, schedule=schedule,
            misfire=req.misfire or job.misfire, enabled=enabled,
            next_run=schedule.next_after(now) if rescheduled or job.next_run is None else job.next_run,
            updated_at=max(now, job.updated_at + 1),
            memory={} if action != job.action or params != job.params else job.memory,
        )
        if not self.jobs.replace(changed, job.updated_at):
            raise Conflict("the job changed meanwhile; read it again and retry")
        return changed

    def delete(self, who: Identity, job_id: str) -> None:
        self.get(who, job_id)
        if not self.jobs.remove(job_id):
            raise NotFound(f"no job with id {job_id}")

    def preview(self, cron: str | None, interval: int | None, timezone: str, count: int) -> list[int]:
        now = self.clock()
        return _schedule(cron, interval, timezone, now).upcoming(now, count)

    # -- runs ------------------------------------------------------------------------------------
    def run_now(self, who: Identity, job_id: str) -> JobRun:
        job = self.get(who, job_id)
        now = self.clock()
        run = self._new_run(job, Trigger.MANUAL, None, now, f"{now:013d}#m{secrets.token_hex(4)}")
        self.runs.open_run(run)
        self._send(run)
        return run

    def history(
        self, who: Identity, q: HistoryQuery, job_id: str | None = None
    ) -> tuple[list[JobRun], int, str | None]:
        if job_id is not None:
            self.get(who, job_id)
        job_id = job_id or q.job_id
        if job_id is not None and q.job_id is not None and q.job_id != job_id:
            raise field_error("job_id", "names another job than the path")
        owner = None if who.is_admin else who.user_id
        try:
            return self.runs.page(job_id=job_id, owner=owner, status=q.status, since=q.since, until=q.until,
                                  per_page=q.per_page, cursor=q.cursor)
        except ValueError as exc:
            raise field_error("cursor", str(exc)) from None

    @staticmethod
    def _new_run(job: Job, trigger: Trigger, slot: int | None, now: int, sk: str,
                 status: RunStatus = RunStatus.QUEUED, result: str | None = None) -> JobRun:
        return JobRun(id=f"{job.id}.{sk.replace('#', '.')}", job_id=job.id, sk=sk, owner=job.owner,
                      job_name=job.name, action=job.action.value, trigger=trigger.value, status=status,
                      queued_at=now, slot=slot, ended_at=now if status != RunStatus.QUEUED else None,
                      result=result)

    def _send(self, run: JobRun) -> None:
        self.queue.send({"kind": "job-run", "job": run.job_id, "run": run.sk})

    def tick(self, now: int | None = None) -> dict[str, int]:
        """Claim every due slot once and queue its run; counts of what happened."""
        now = self.clock() if now is None else now
        counts = {"queued": 0, "skipped": 0, "lost": 0}
        due, broken = self.jobs.due(now)
        counts["due"], counts["failed"] = len(broken), len(broken)
        for job in due:
            counts["due"] += 1
            try:
                decision = decide(job.schedule, int(job.next_run or now), now, job.misfire)
                if not self.jobs.claim_slot(job.id, decision.slot, decision.next_slot, now):
                    counts["lost"] += 1  # another tick claimed this slot
                    continue
                counts["queued" if self._start_slot(job, decision, now) else "skipped"] += 1
            except Exception:  # one job's trouble never stops the others
                counts["failed"] += 1
                log.exception("job %s: the tick could not queue its run", job.id)
        if counts["due"]:
            log.info("job tick: %s", counts)
        return counts

    def _start_slot(self, job: Job, decision: Decision, now: int) -> bool:
        sk = f"{decision.slot:013d}#s"
        if not decision.run:
            run = self._new_run(job, Trigger.SCHEDULE, decision.slot, now, sk, RunStatus.SKIPPED,
                                f"missed {decision.missed} slot(s) while Haul was not running (misfire: skip)")
            self.runs.open_run(run)
            self.jobs.note_run(job.id, RunStatus.SKIPPED.value, now, None)
            return False
        result = f"ran late: {decision.missed + 1} slot(s) missed, run once" if decision.missed or (
            now - decision.slot > 120_000) else None
        run = self._new_run(job, Trigger.SCHEDULE, decision.slot, now, sk)
        run.result = result
        if self.runs.open_run(run):
            self._send(run)
            return True
        return False

    def execute(self, message: dict[str, Any]) -> RunStatus | None:
        """Perform one queued run (the jobs queue's consumer); its final status, or None if
        there was nothing to do (unknown, or started already)."""
        job_id, sk = str(message.get("job", "")), str(message.get("run", ""))
        run = self.runs.find(job_id, sk)
        if run is None or not self.runs.start(job_id, sk, self.clock()):
            return None
        job = self.jobs.find(job_id)
        status, result, error, memory = RunStatus.FAILURE, None, None, None
        try:
            if job is None:
                raise JobFailed("the job was deleted")
            who = self.identity_of(job.owner)
            if who is None:
                raise JobFailed("the job's owner no longer exists or is disabled")
            outcome = self.runner.run(job, who)
            status, result, memory = RunStatus.SUCCESS, outcome.result, outcome.memory
        except Skipped as exc:
            status, result = RunStatus.SKIPPED, str(exc)
            memory = job.memory if job is not None else None
        except (JobFailed, ValidationFailed) as exc:
            error = str(getattr(exc, "message", None) or exc)
        except Exception as exc:
            log.exception("job %s run %s failed", job_id, sk)
            error = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
        end = self.clock()
        if run.result and result:
            result = f"{result} ({run.result})"
        self.runs.finish(job_id, sk, status, end, (result or "")[:MAX_RESULT] or None,
                         (error or "")[:MAX_ERROR] or None)
        if job is not None:
            self.jobs.note_run(job_id, status.value, end, error[:MAX_ERROR] if error else None, memory)
        if status == RunStatus.FAILURE and job is not None and self.on_failure is not None:
            try:
                self.on_failure(job, replace(run, status=status, ended_at=end, error=error))
            except Exception:
                log.exception("job %s: could not announce its failure", job_id)
        return status


def owner_identity(accounts: Any) -> Callable[[str], Identity | None]:
    """user id -> the user as they are now (their current role), None if gone or disabled."""

    def find(user_id: str) -> Identity | None:
        try:
            user = accounts.user(user_id)
        except NotFound:
            return None
        if user.disabled:
            return None
        return Identity(user_id=user.id, username=user.username, role=Role(user.role), via="job")

    return find
