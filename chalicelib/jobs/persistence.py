"""Where jobs and their runs live (chalicelib/persistence/models.py JobModel, JobRunModel): the only module
of chalicelib/jobs/ that talks to DynamoDB.

The exactly-once rule is :meth:`JobStore.claim_slot`: a conditional write that moves the job's
``next_run`` from the slot the tick read to the next one. Two ticks (or two processes) that
read the same slot race on that write and only one wins; the loser runs nothing. A scheduled
run's record is keyed by its slot and created only if absent (:meth:`RunStore.open_run`), a
second guard; a run is started only from ``queued`` (:meth:`RunStore.start`), so a duplicate
SQS delivery of the run's message does nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

from pynamodb.exceptions import DeleteError, DoesNotExist, UpdateError
from pynamodb.expressions.condition import Condition

from ..persistence import cursors
from ..persistence.conditions import condition_failed, save_if, update_if
from ..persistence.models import JobModel, JobRunModel
from .actions import ActionName
from .models import Job, JobRun, RunStatus
from .schedule import Misfire, Schedule

DUE = "job"
RUN_RETENTION_DAYS = 90


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def to_job(m: JobModel) -> Job:
    return Job(
        id=m.id, owner=m.owner, owner_name=m.owner_name, name=m.name,
        action=ActionName(m.action), params=dict(m.params or {}),
        schedule=Schedule(cron=m.cron, interval_seconds=_int(m.interval_seconds), timezone=m.timezone,
                          anchor_ms=int(m.anchor_ms or 0)),
        misfire=Misfire(m.misfire), enabled=bool(m.enabled), next_run=_int(m.next_run),
        created_at=int(m.created_at), updated_at=int(m.updated_at), memory=dict(m.memory or {}),
        last_run_at=_int(m.last_run_at), last_status=m.last_status, last_error=m.last_error,
    )


def _model_of(job: Job) -> JobModel:
    return JobModel(
        job.id, owner=job.owner, owner_name=job.owner_name, name=job.name,
        cron=job.schedule.cron, interval_seconds=job.schedule.interval_seconds, timezone=job.schedule.timezone,
        anchor_ms=job.schedule.anchor_ms, action=job.action.value, params=job.params, misfire=job.misfire.value,
        enabled=job.enabled, next_run=job.next_run if job.enabled else None, due=DUE if job.enabled else None,
        memory=job.memory or None, last_run_at=job.last_run_at, last_status=job.last_status,
        last_error=job.last_error, created_key=f"{job.created_at:013d}#{job.id}", created_at=job.created_at,
        updated_at=job.updated_at,
    )


def to_run(m: JobRunModel) -> JobRun:
    return JobRun(
        id=m.id, job_id=m.job_id, sk=m.sk, owner=m.owner, job_name=m.job_name, action=m.action,
        trigger=m.trigger, status=RunStatus(m.status), queued_at=int(m.queued_at), slot=_int(m.slot),
        started_at=_int(m.started_at), ended_at=_int(m.ended_at), result=m.result, error=m.error,
    )


class JobStore:
    def add(self, job: Job) -> None:
        _model_of(job).save(condition=JobModel.id.does_not_exist())

    def find(self, job_id: str) -> Job | None:
        try:
            return to_job(JobModel.get(job_id, consistent_read=True))
        except DoesNotExist:
            return None

    def replace(self, job: Job, seen_updated_at: int) -> bool:
        """Write the job's new definition unless it changed since it was read."""
        return save_if(_model_of(job), JobModel.updated_at == seen_updated_at)

    def remove(self, job_id: str) -> bool:
        try:
            JobModel(job_id).delete(condition=JobModel.id.exists())
        except DeleteError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def owned_by(self, owner: str) -> list[Job]:
        return [to_job(cast(JobModel, m)) for m in JobModel.by_owner.query(owner, scan_index_forward=False)]

    def everyone(self) -> list[Job]:
        return [to_job(cast(JobModel, m)) for m in JobModel.by_created.query("job", scan_index_forward=False)]

    def due(self, now_ms: int, limit: int = 500) -> tuple[list[Job], list[str]]:
        """Enabled jobs whose next slot is at or before ``now_ms`` (a Query on by-due, no scan),
        and the ids of due items that are not a readable job (taken off the schedule here, with
        the reason as their last error, so one broken item cannot trouble every tick)."""
        jobs, broken = [], []
        for m in JobModel.by_due.query(DUE, JobModel.next_run <= now_ms, limit=limit):
            try:
                jobs.append(to_job(cast(JobModel, m)))
            except (ValueError, TypeError) as exc:
                broken.append(m.id)
                self._park(m.id, f"taken off the schedule: {exc}")
        return jobs, broken

    def _park(self, job_id: str, error: str) -> None:
        JobModel(job_id).update(actions=[JobModel.due.remove(), JobModel.enabled.set(False),
                                         JobModel.last_status.set("failure"), JobModel.last_error.set(error[:1000])])

    def claim_slot(self, job_id: str, slot: int, next_slot: int, now_ms: int) -> bool:
        """Move the job from ``slot`` to ``next_slot``; False if another tick did it first (or the
        job was disabled, changed or deleted meanwhile)."""
        return update_if(JobModel(job_id), [JobModel.next_run.set(next_slot)],
                         (JobModel.next_run == slot) & (JobModel.due == DUE))

    def note_run(self, job_id: str, status: str, at_ms: int, error: str | None,
                 memory: dict[str, Any] | None = None) -> None:
        """The job's last run (and what its action keeps for the next one)."""
        actions: list[Any] = [JobModel.last_run_at.set(at_ms), JobModel.last_status.set(status),
                              JobModel.last_error.set(error) if error else JobModel.last_error.remove()]
        if memory is not None:
            actions.append(JobModel.memory.set(memory))
        try:
            JobModel(job_id).update(actions=actions, condition=JobModel.id.exists())
        except UpdateError as exc:
            if not condition_failed(exc):  # deleted meanwhile: nothing to note
                raise


class RunStore:
    def open_run(self, run: JobRun) -> bool:
        """Record a queued run; False if a run with this key exists already (the slot ran)."""
        model = JobRunModel(
            run.job_id, run.sk, id=run.id, owner=run.owner, job_name=run.job_name, action=run.action,
            trigger=run.trigger, slot=run.slot, status=run.status.value, queued_at=run.queued_at,
            started_at=run.started_at, ended_at=run.ended_at, result=run.result, error=run.error,
            created_key=run.sk,
            expires=datetime.fromtimestamp(run.queued_at / 1000 + RUN_RETENTION_DAYS * 86400, tz=UTC),
        )
        return save_if(model, JobRunModel.sk.does_not_exist())

    def find(self, job_id: str, sk: str) -> JobRun | None:
        try:
            return to_run(JobRunModel.get(job_id, sk, consistent_read=True))
        except DoesNotExist:
            return None

    def start(self, job_id: str, sk: str, now_ms: int) -> bool:
        """queued -> running; False if the run was started already (a duplicate delivery)."""
        return update_if(JobRunModel(job_id, sk),
                         [JobRunModel.status.set(RunStatus.RUNNING.value), JobRunModel.started_at.set(now_ms)],
                         JobRunModel.status == RunStatus.QUEUED.value)

    def finish(self, job_id: str, sk: str, status: RunStatus, now_ms: int, result: str | None,
               error: str | None) -> None:
        actions: list[Any] = [JobRunModel.status.set(status.value), JobRunModel.ended_at.set(now_ms)]
        if result:
            actions.append(JobRunModel.result.set(result))
        if error:
            actions.append(JobRunModel.error.set(error))
        JobRunModel(job_id, sk).update(actions=actions)

    def page(self, *, job_id: str | None, owner: str | None, status: RunStatus | None, since: int | None,
             until: int | None, per_page: int, cursor: str | None) -> tuple[list[JobRun], int, str | None]:
        """A page of runs, newest first: one job's (its partition), one owner's (by-owner) or
        everyone's (by-created); the time range is a key condition, the status a filter.
        Returns (runs, total with the same filters, the next page's cursor)."""
        low = f"{since or 0:013d}"
        high = f"{until:013d}" if until is not None else "9" * 13 + "~"
        filt: Condition | None = JobRunModel.status == status.value if status else None
        if job_id is not None:
            key_cond = JobRunModel.sk.between(low, high)
            if owner is not None:
                filt = (JobRunModel.owner == owner) & filt if filt is not None else JobRunModel.owner == owner
            query: Any = JobRunModel.query
            hash_key = job_id
        else:
            key_cond = JobRunModel.created_key.between(low, high)
            query = JobRunModel.by_owner.query if owner is not None else JobRunModel.by_created.query
            hash_key = owner if owner is not None else "run"
        start = None
        if cursor:
            try:
                start = cursors.unpack(cursor)
            except ValueError:
                raise ValueError("is not a cursor this API issued for this list") from None
            if not isinstance(start, dict):
                raise ValueError("is not a cursor this API issued for this list")
        results = query(hash_key, key_cond, filter_condition=filt, scan_index_forward=False, limit=per_page,
                        last_evaluated_key=start, page_size=max(per_page, 50))
        runs = [to_run(m) for m in results]
        last = results.last_evaluated_key if len(runs) >= per_page else None
        counter: Any = JobRunModel.count if job_id is not None else (
            JobRunModel.by_owner.count if owner is not None else JobRunModel.by_created.count)
        total = counter(hash_key, key_cond, filter_condition=filt)
        return runs, int(total), cursors.pack(last) if last else None

    def latest(self, job_id: str, limit: int = 10) -> Iterator[JobRun]:
        for m in JobRunModel.query(job_id, scan_index_forward=False, limit=limit):
            yield to_run(m)
