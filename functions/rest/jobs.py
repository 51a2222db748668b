"""Scheduled jobs: the REST routes (chalicelib/jobs/). Wiring only. The per-minute tick is
functions/timers/jobs.py, the jobs queue's consumer functions/queues/jobs.py."""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.jobs.models import CreateJob, HistoryQuery, PatchJob, PreviewSchedule
from chalicelib.jobs.schedule import iso, local_iso

from .http import PAGINATION_HEADERS, caller, json_body, paginated, query, respond, route

blueprint = Blueprint(__name__)
log = logging.getLogger("haul.jobs")


def _jobs() -> Any:
    return services().jobs


def _now() -> int:
    return int(_jobs().clock())


@route(blueprint, "/jobs", ["POST"], role=Role.USER, body=CreateJob, status=201, errors=[403, 409], tag="jobs")
def create_job(request: Request) -> dict[str, Any]:
    """Schedule a job: a name, a cron expression (5 fields) or interval, a time zone, an action and its
    params, the misfire policy. Queue and speed-limit actions (and `all_users`) need an admin."""
    job = _jobs().create(caller(request), parse(CreateJob, json_body(request)))
    return job.view(_now())


@route(blueprint, "/jobs", ["GET"], tag="jobs")
def list_jobs(request: Request) -> dict[str, Any]:
    """Your jobs (admins: everyone's) with their next run and the next 5 slots."""
    now = _now()
    jobs = [j.view(now) for j in _jobs().visible(caller(request))]
    return {"jobs": jobs, "total": len(jobs)}


@route(blueprint, "/jobs/preview", ["POST"], body=PreviewSchedule, tag="jobs")
def preview_schedule(request: Request) -> dict[str, Any]:
    """The next `count` runs of a cron expression or interval in a time zone (the cron helper)."""
    req = parse(PreviewSchedule, json_body(request))
    slots = _jobs().preview(req.cron, req.interval_seconds, req.timezone, req.count)

    return {"runs": [iso(s) for s in slots], "local": [local_iso(s, req.timezone) for s in slots]}


@route(blueprint, "/jobs/history", ["GET"], query=HistoryQuery, headers=PAGINATION_HEADERS, errors=[404], tag="jobs")
def job_history(request: Request) -> Response:
    """Runs of your jobs (admins: everyone's), newest first: filter by `job_id`, `status`
    (success, failure, skipped, queued, running) and `since`/`until`; paged with `cursor`."""
    q = parse(HistoryQuery, query(request), "query")
    runs, total, cursor = _jobs().history(caller(request), q)
    return paginated(request, "runs", [r.view() for r in runs], total=total, per_page=q.per_page, next_cursor=cursor)


@route(blueprint, "/jobs/{job_id}", ["GET"], errors=[404], tag="jobs")
def get_job(request: Request, job_id: str) -> dict[str, Any]:
    """One job, with its next run and the next 5 slots."""
    return _jobs().get(caller(request), job_id).view(_now())


@route(blueprint, "/jobs/{job_id}", ["PATCH"], role=Role.USER, body=PatchJob, errors=[403, 404, 409], tag="jobs")
def patch_job(request: Request, job_id: str) -> dict[str, Any]:
    """Change a job: any of name, cron or interval_seconds, timezone, action, params, misfire, enabled."""
    job = _jobs().patch(caller(request), job_id, parse(PatchJob, json_body(request)))
    return job.view(_now())


@route(blueprint, "/jobs/{job_id}", ["DELETE"], role=Role.USER, status=204, content_type="", errors=[404], tag="jobs")
def delete_job(request: Request, job_id: str) -> Response:
    """Delete a job (its history stays until it expires)."""
    _jobs().delete(caller(request), job_id)
    return Response(body="", status_code=204)


@route(blueprint, "/jobs/{job_id}/run", ["POST"], role=Role.USER, status=202, errors=[404], tag="jobs")
def run_job(request: Request, job_id: str) -> Response:
    """Run the job now (its schedule goes on as before): 202 with the run's id; the outcome is in its history."""
    run = _jobs().run_now(caller(request), job_id)
    return respond({"run_id": run.id, "job_id": run.job_id, "status": run.status.value}, 202)


@route(blueprint, "/jobs/{job_id}/history", ["GET"], query=HistoryQuery, headers=PAGINATION_HEADERS, errors=[404],
       tag="jobs")
def one_job_history(request: Request, job_id: str) -> Response:
    """This job's runs, newest first (same filters as /jobs/history)."""
    q = parse(HistoryQuery, query(request), "query")
    runs, total, cursor = _jobs().history(caller(request), q, job_id)
    return paginated(request, "runs", [r.view() for r in runs], total=total, per_page=q.per_page, next_cursor=cursor)
