"""Scheduled jobs against the emulator: exactly one run per slot under racing ticks, misfire
policies, each action's effect through the real engine, and the REST API (chalicelib/jobs/)."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.jobs.models import CreateJob, HistoryQuery, Job, RunStatus
from chalicelib.jobs.persistence import JobStore
from chalicelib.persistence.models import JobModel, JobRunModel
from tests.support.api import json_caller
from tests.support.auth import new_user
from tests.support.engine import wait_finished
from tests.support.origin import Resource
from tests.support.wait import wait_for

HOUR = 3_600_000


@pytest.fixture()
def jobs(svc):
    """The jobs service with no jobs, no runs and an empty jobs queue."""
    for model in (JobModel, JobRunModel):
        for item in model.scan():
            item.delete()
    queue = svc.jobs.queue
    svc.clients.sqs.purge_queue(QueueUrl=queue.url)
    return svc.jobs


def spec(**fields: Any) -> CreateJob:
    return CreateJob.model_validate(fields)


def stored(job_id: str) -> Job:
    job = JobStore().find(job_id)
    assert job is not None
    return job


def person(role: str) -> Identity:
    user_id, _, grant = new_user(role)
    return Identity(user_id, grant["user"]["username"], Role(role))


def queued_messages(svc: Any) -> list[dict[str, Any]]:
    """Every message waiting in the jobs queue (received and left to reappear later)."""
    out: list[dict[str, Any]] = []
    while True:
        got = svc.clients.sqs.receive_message(QueueUrl=svc.jobs.queue.url, MaxNumberOfMessages=10,
                                              VisibilityTimeout=60, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            return out
        out += [json.loads(m["Body"]) for m in got]


def runs_of(job_id: str) -> list[Any]:
    return list(JobRunModel.query(job_id))


def wait_run(jobs: Any, job_id: str, count: int = 1, timeout: float = 60) -> list[Any]:
    """The job's runs once ``count`` of them have ended."""
    def ended() -> list[Any] | None:
        runs = [r for r in runs_of(job_id) if r.status not in ("queued", "running")]
        return runs if len(runs) >= count else None

    return wait_for(ended, timeout=timeout, what=f"{count} ended run(s) of job {job_id}")


def test_two_racing_ticks_run_each_slot_exactly_once(jobs, svc) -> None:
    admin = person("admin")
    job = jobs.create(admin, spec(name="every 5 min", cron="*/5 * * * *", action="queue_start"))
    slot = int(job.next_run)
    outcomes: list[dict[str, int]] = []
    for round_ in range(3):
        now = slot + 1_000 + round_ * 300_000
        barrier = threading.Barrier(2)

        def tick(now: int = now, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            outcomes.append(jobs.tick(now))

        threads = [threading.Thread(target=tick) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    # Each round: both ticks saw the slot due, one claimed it, the other lost the race.
    assert sum(o["queued"] for o in outcomes) == 3
    assert sum(o["lost"] for o in outcomes) + sum(o["due"] == 0 for o in outcomes) == 3
    runs = runs_of(job.id)
    assert sorted(int(r.slot) for r in runs) == [slot, slot + 300_000, slot + 600_000]
    messages = queued_messages(svc)
    assert len(messages) == 3 and len({m["run"] for m in messages}) == 3
    # A tick that comes again for a slot already run finds nothing due.
    assert jobs.tick(slot + 1_000)["due"] == 0
    assert stored(job.id).next_run == slot + 900_000


def test_a_duplicate_delivery_of_a_run_does_nothing(jobs, svc) -> None:
    admin = person("admin")
    job = jobs.create(admin, spec(name="start", cron="0 * * * *", action="queue_start"))
    jobs.tick(int(job.next_run) + 1)
    [message] = queued_messages(svc)
    assert jobs.execute(message) == RunStatus.SUCCESS
    assert jobs.execute(message) is None
    [run] = runs_of(job.id)
    assert run.status == "success" and run.started_at and run.ended_at >= run.started_at


def test_misfire_run_once_runs_one_late_run_and_resumes_the_schedule(jobs, svc) -> None:
    admin = person("admin")
    job = jobs.create(admin, spec(name="hourly", cron="0 * * * *", action="queue_start", misfire="run_once"))
    slot = int(job.next_run)
    down_until = slot + 5 * HOUR + 20 * 60_000  # Haul was down over 6 slots
    counts = jobs.tick(down_until)
    assert counts["queued"] == 1
    [run] = runs_of(job.id)
    assert run.status == "queued" and int(run.slot) == slot and "6 slot(s) missed" in run.result
    assert len(queued_messages(svc)) == 1
    assert stored(job.id).next_run == slot + 6 * HOUR


def test_misfire_skip_records_skipped_and_runs_nothing(jobs, svc) -> None:
    admin = person("admin")
    job = jobs.create(admin, spec(name="hourly", cron="0 * * * *", action="queue_start", misfire="skip"))
    slot = int(job.next_run)
    counts = jobs.tick(slot + 3 * HOUR + 60_000)
    assert counts == {"due": 1, "queued": 0, "skipped": 1, "lost": 0, "failed": 0}
    [run] = runs_of(job.id)
    assert run.status == "skipped" and "missed 4 slot(s)" in run.result
    assert queued_messages(svc) == []
    assert stored(job.id).next_run == slot + 4 * HOUR
    # On time again: it runs.
    assert jobs.tick(slot + 4 * HOUR + 5_000)["queued"] == 1


def test_a_disabled_job_is_not_due_and_enabling_it_schedules_from_now(jobs, svc) -> None:
    from chalicelib.jobs.models import PatchJob

    admin = person("admin")
    job = jobs.create(admin, spec(name="x", cron="0 * * * *", action="queue_start", enabled=False))
    assert jobs.tick(int(job.next_run) + 10 * HOUR)["due"] == 0
    again = jobs.patch(admin, job.id, PatchJob(enabled=True))
    assert again.enabled and again.next_run > jobs.clock()


def test_a_failing_job_never_stops_the_others(jobs, svc, workers) -> None:
    admin = person("admin")
    # A feed that does not exist: the refresh fails (404), the other jobs run.
    bad = jobs.create(admin, spec(name="feeds", cron="* * * * *", action="refresh_feeds",
                                  params={"feed_ids": ["no-such-feed"]}))
    bad_pause = jobs.create(admin, spec(name="notify", cron="* * * * *", action="send_notification",
                                             params={"title": "t", "message": "m"}))
    good = jobs.create(admin, spec(name="start", cron="* * * * *", action="queue_start"))
    # The tick itself survives a job it cannot read properly.
    JobModel(bad_pause.id).update(actions=[JobModel.cron.set("not cron")])
    now = max(int(j.next_run) for j in (bad, bad_pause, good)) + 1_000
    counts = jobs.tick(now)
    assert counts["due"] == 3 and counts["queued"] == 2 and counts["failed"] == 1
    [good_run] = wait_run(jobs, good.id)
    [bad_run] = wait_run(jobs, bad.id)
    assert good_run.status == "success"
    assert bad_run.status == "failure" and bad_run.error and bad_run.ended_at
    assert stored(bad.id).last_status == "failure"
    # The unreadable one is off the schedule, with the reason.
    parked = JobModel.get(bad_pause.id)
    assert parked.due is None and not parked.enabled and "5 fields" in parked.last_error
    assert jobs.tick(now + 60_000)["failed"] == 0


# -- each action's effect, run through the jobs queue's consumer ----------------------------------
def run_now(jobs: Any, who: Identity, **job: Any) -> Any:
    made = jobs.create(who, spec(name=job.pop("name", "job"), cron="0 0 1 1 *", **job))
    jobs.run_now(who, made.id)
    [run] = wait_run(jobs, made.id)
    return made, run


def test_queue_actions_and_the_global_speed_limit(jobs, svc, workers, settled) -> None:
    admin = person("admin")
    try:
        _, run = run_now(jobs, admin, action="queue_stop")
        assert run.status == "success" and svc.queue_control.status().state(svc.queue_control.now_ms()) == "stopped"
        _, run = run_now(jobs, admin, action="queue_pause", params={"minutes": 30})
        assert run.status == "success" and svc.queue_control.status().state(svc.queue_control.now_ms()) == "paused"
        _, run = run_now(jobs, admin, action="queue_start")
        assert run.status == "success" and svc.queue_control.status().state(svc.queue_control.now_ms()) == "running"
        _, run = run_now(jobs, admin, action="speed_limit", params={"bytes_per_second": 123456})
        assert run.status == "success" and "123456" in run.result
        svc.settings._cached = None
        assert svc.settings.get().default_speed_limit == 123456
    finally:
        svc.queue_control.start(admin)
        svc.settings.update({"default_speed_limit": 0})


def test_an_owner_who_lost_admin_cannot_run_an_admin_action(jobs, svc, workers) -> None:
    from chalicelib.auth.schemas import PatchUser

    admin, other = person("admin"), person("admin")
    made = jobs.create(admin, spec(name="stop", cron="0 0 1 1 *", action="queue_stop"))
    svc.accounts.update_user(other, admin.user_id, PatchUser(role=Role.USER))
    jobs.run_now(other, made.id)
    [run] = wait_run(jobs, made.id)
    assert run.status == "failure" and "needs an admin" in run.error
    assert svc.queue_control.status().state(svc.queue_control.now_ms()) == "running"


def test_retry_failed_and_clear_history(jobs, svc, workers, origin, settled) -> None:
    user = person("user")
    origin.add("/ok.bin", Resource(data=os.urandom(1000)))
    gone = svc.downloads.add(user, AddDownload(url=origin.url("/missing.bin")))
    done = svc.downloads.add(user, AddDownload(url=origin.url("/ok.bin")))
    assert wait_finished(svc, gone.id).state == TaskState.FAILED
    assert wait_finished(svc, done.id).state == TaskState.COMPLETED

    _, run = run_now(jobs, user, action="retry_failed")
    assert run.status == "success" and run.result == "retried 1 failed download(s)"
    assert wait_finished(svc, gone.id).state == TaskState.FAILED  # still missing: it fails again

    _, run = run_now(jobs, user, action="clear_history", params={"older_than_days": 1})
    assert run.status == "skipped" and "older than 1 day" in run.result
    assert svc.repo.get(done.id) is not None
    _, run = run_now(jobs, user, action="clear_history", params={"older_than_days": 0, "states": ["completed"]})
    assert run.status == "success" and run.result.startswith("cleared 1 ")
    assert svc.repo.get(done.id) is None and svc.repo.get(gone.id) is not None


def test_add_urls_fetches_again_only_when_the_source_changed(jobs, svc, workers, origin, settled) -> None:
    user = person("user")
    res = origin.add("/daily.csv", Resource(data=b"a,b\n1,2\n", etag='"v1"'))
    made, run = run_now(jobs, user, action="add_urls", params={"urls": [origin.url("/daily.csv")]})
    assert run.status == "success" and run.result == "added 1, unchanged 0"

    jobs.run_now(user, made.id)
    runs = wait_run(jobs, made.id, 2)
    assert sorted(r.status for r in runs) == ["skipped", "success"]
    assert "unchanged" in next(r.result for r in runs if r.status == "skipped")

    res.data, res.etag = b"a,b\n1,2\n3,4\n", '"v2"'
    jobs.run_now(user, made.id)
    runs = wait_run(jobs, made.id, 3)
    assert sorted(r.status for r in runs) == ["skipped", "success", "success"]
    page, _ = svc.repo.list_for_owner(user.user_id, None, 10, None)
    assert len(page) == 2  # fetched twice: the first time and after the change


# -- the REST API ----------------------------------------------------------------------------
@pytest.fixture()
def api(svc, monkeypatch: pytest.MonkeyPatch):
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    return json_caller(Client(app))


def test_the_jobs_api(jobs, api, workers) -> None:
    _, admin, _ = new_user("admin")
    _, alice, _ = new_user("user")
    _, bob, _ = new_user("user")
    # A user may not schedule what everyone shares.
    denied = api(alice, "POST", "/jobs", {"name": "stop", "cron": "0 1 * * *", "action": "queue_stop"})
    assert denied.status_code == 403
    bad = api(alice, "POST", "/jobs", {"name": "x", "cron": "0 25 * * *", "action": "retry_failed"})
    assert bad.status_code == 422 and bad.json_body["error"]["details"][0]["field"] == "cron"
    bad = api(alice, "POST", "/jobs", {"name": "x", "cron": "0 1 * * *", "timezone": "Nowhere/City",
                                       "action": "retry_failed"})
    assert bad.status_code == 422 and bad.json_body["error"]["details"][0]["field"] == "timezone"
    bad = api(alice, "POST", "/jobs", {"name": "x", "interval_seconds": 600, "action": "queue_pause",
                                       "params": {"minutes": -1}})
    assert bad.status_code == 422 and bad.json_body["error"]["details"][0]["field"] == "params.minutes"

    made = api(alice, "POST", "/jobs", {"name": "nightly retry", "cron": "30 2 * * *", "timezone": "Europe/Berlin",
                                        "action": "retry_failed"})
    assert made.status_code == 201, made.body
    job = made.json_body
    assert len(job["upcoming"]) == 5 and job["next_run_local"].endswith(("+01:00", "+02:00"))
    assert job["next_run_local"][11:16] == "02:30" or job["next_run_local"][11:16] == "03:00"
    assert api(bob, "GET", f"/jobs/{job['id']}").status_code == 404
    assert [j["id"] for j in api(alice, "GET", "/jobs").json_body["jobs"]] == [job["id"]]
    assert job["id"] in [j["id"] for j in api(admin, "GET", "/jobs").json_body["jobs"]]

    patched = api(alice, "PATCH", f"/jobs/{job['id']}", {"enabled": False, "name": "paused retry"})
    assert patched.status_code == 200 and patched.json_body["enabled"] is False
    assert patched.json_body["next_run"] is None and patched.json_body["name"] == "paused retry"
    assert api(alice, "PATCH", f"/jobs/{job['id']}", {"action": "queue_stop"}).status_code == 403

    started = api(alice, "POST", f"/jobs/{job['id']}/run")
    assert started.status_code == 202 and started.json_body["run_id"].startswith(job["id"])
    wait_run(jobs, job["id"])
    history = api(alice, "GET", f"/jobs/{job['id']}/history")
    assert history.status_code == 200 and history.json_body["total"] == 1
    [entry] = history.json_body["runs"]
    assert entry["id"] == started.json_body["run_id"] and entry["status"] == "skipped"
    assert entry["trigger"] == "manual" and entry["started_at"] and entry["ended_at"]
    assert api(alice, "GET", "/jobs/history?status=skipped").json_body["total"] == 1
    assert api(alice, "GET", "/jobs/history?status=failure").json_body["total"] == 0
    assert api(alice, "GET", "/jobs/history?since=2200-01-01T00:00:00Z").json_body["total"] == 0
    assert api(bob, "GET", "/jobs/history").json_body["total"] == 0
    assert api(admin, "GET", f"/jobs/history?job_id={job['id']}").json_body["total"] == 1
    assert api(alice, "GET", "/jobs/history?status=maybe").status_code == 422

    preview = api(alice, "POST", "/jobs/preview", {"cron": "0 9 * * MON", "timezone": "America/New_York"})
    assert preview.status_code == 200 and len(preview.json_body["runs"]) == 5
    assert all(t[11:16] == "09:00" for t in preview.json_body["local"])

    assert api(bob, "DELETE", f"/jobs/{job['id']}").status_code == 404
    assert api(alice, "DELETE", f"/jobs/{job['id']}").status_code == 204
    assert api(alice, "GET", f"/jobs/{job['id']}").status_code == 404


def test_history_pages(jobs, svc) -> None:
    admin = person("admin")
    job = jobs.create(admin, spec(name="x", cron="0 0 1 1 *", action="queue_start"))
    for _ in range(5):
        jobs.run_now(admin, job.id)
    runs, total, cursor = jobs.history(admin, HistoryQuery(per_page=2), job.id)
    seen = [r.id for r in runs]
    assert total == 5 and cursor
    while cursor:
        runs, _, cursor = jobs.history(admin, HistoryQuery(per_page=2, cursor=cursor), job.id)
        seen += [r.id for r in runs]
    assert len(seen) == 5 == len(set(seen))
    assert seen == sorted(seen, reverse=True)


def test_refresh_feeds_refreshes_the_owners_feeds(jobs, svc, workers, settled) -> None:
    from tests.support.feedserver import Doc, Entry, FeedServer, rss2

    user = person("user")
    with FeedServer() as server:
        url = server.add("/rss", Doc(body=rss2("Shows", [Entry(title="Show S01E01", link=server.url("/p/1"),
                                                                guid="g1", enclosure=server.url("/f/1.bin"),
                                                                length=10)]), etag='"v1"'))
        feed = svc.feeds.subscribe(user, {"url": url, "rules": [{"include": ["show"]}]})
        _, run = run_now(jobs, user, action="refresh_feeds", params={"feed_ids": [feed.id]})
        assert run.status == "success", run.error
        assert run.result.startswith("1 feed(s): 1 item(s) found, 1 new, 1 matched, 1 enqueued")
        page, _ = svc.repo.list_for_owner(user.user_id, None, 10, None)
        assert [t.url for t in page] == [server.url("/f/1.bin")]
