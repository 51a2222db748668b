"""The setup wizard (open before the first admin exists, 403 after) and GET /health/detailed,
against the emulator with real feed and webhook servers on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.health import persistence as marks
from chalicelib.health import service as health_service
from chalicelib.persistence.models import UserModel
from tests.support.auth import new_user
from tests.support.feedserver import Doc, Entry, FeedServer, rss2
from tests.support.origin import Resource
from tests.support.receiver import Receiver

P = "/api/v1"
SECRET = "a webhook secret of some length"


@pytest.fixture()
def api(svc, monkeypatch: pytest.MonkeyPatch):
    from app import app

    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    client = Client(app)

    def call(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        resp = client.http.request(method, P + path, headers={"Content-Type": "application/json", **(headers or {})},
                                   body=b"" if body is None else json.dumps(body).encode())
        assert resp.status_code < 500, resp.body
        return resp

    return call


@pytest.fixture()
def fresh(svc):
    """A stage without users (the svc fixture has emptied the control table)."""
    for user in UserModel.scan():
        user.delete()
    yield
    for user in UserModel.scan():
        user.delete()


def test_the_wizard_is_open_until_the_first_admin_exists_then_closes(api, fresh) -> None:
    status = api("GET", "/setup/status").json_body
    assert status["open"] and not status["complete"]
    steps = {s["name"]: s for s in status["steps"]}
    assert not steps["admin"]["done"] and steps["storage"]["done"]
    assert {"admin", "feed", "notification"} <= set(status["needs"])

    with FeedServer() as feeds:
        url = feeds.add("/rss", Doc(body=rss2("Linux ISOs", [
            Entry(title=f"distro-{n}.iso", link=feeds.url(f"/p/{n}"), guid=f"g{n}",
                  enclosure=feeds.url(f"/f/{n}.iso"), length=10) for n in range(7)])))
        tried = api("POST", "/setup/test-feed", {"url": url})
        assert tried.status_code == 200, tried.body
        assert tried.json_body["ok"] and tried.json_body["title"] == "Linux ISOs"
        assert tried.json_body["total_items"] == 7 and len(tried.json_body["sample"]) == 5
        missing = api("POST", "/setup/test-feed", {"url": feeds.url("/nothing")}).json_body
        assert missing["ok"] is False and missing["error"]
    with Receiver(secret=SECRET) as hook:
        sent = api("POST", "/setup/test-notification", {"kind": "webhook", "url": hook.url(), "secret": SECRET})
        assert sent.status_code == 200 and sent.json_body["ok"] and sent.json_body["status"] == 200
        assert hook.received[0].signed and hook.received[0].json()["event"] == "test"
    with Receiver() as hub:
        sent = api("POST", "/setup/test-notification", {"kind": "apprise", "url": f"json://127.0.0.1:{hub.port}/"})
        assert sent.json_body["ok"] and hub.received[0].json()["title"] == "Haul test notification"
    bad = api("POST", "/setup/test-notification", {"kind": "apprise", "url": "nosuch://x"})
    assert bad.status_code == 422 and bad.json_body["error"]["details"][0]["field"] == "url"
    steps = {s["name"]: s for s in api("GET", "/setup/status").json_body["steps"]}
    assert steps["feed"]["done"] and steps["notification"]["done"]

    done = api("POST", "/setup/complete", {"username": "first-admin", "password": "correct horse battery staple"})
    assert done.status_code == 201, done.body
    assert done.json_body["user"]["role"] == "admin" and done.json_body["access_token"]

    # Closed: every POST answers 403, the status says it is done, /auth/setup agrees.
    for path, body in [("/setup/test-feed", {"url": "http://127.0.0.1:9/rss"}),
                       ("/setup/test-notification", {"kind": "webhook", "url": "http://127.0.0.1:9/"}),
                       ("/setup/complete", {"username": "second", "password": "correct horse battery staple"})]:
        answer = api("POST", path, body)
        assert answer.status_code == 403, (path, answer.body)
        assert answer.json_body["error"]["code"] == "FORBIDDEN"
    after = api("GET", "/setup/status").json_body
    assert after["complete"] and not after["open"] and "admin" not in after["needs"]
    assert api("POST", "/auth/setup", {"username": "x2", "password": "correct horse battery staple"}).status_code == 409
    assert [u.username for u in UserModel.scan()] == ["first-admin"]


def test_detailed_health_reports_every_dependency_for_admins(api, svc, workers) -> None:
    _, admin, _ = new_user("admin")
    _, user, _ = new_user("user")
    assert api("GET", "/health/detailed", headers=user).status_code == 403
    assert api("GET", "/health/detailed").status_code == 401
    marks._last.clear()
    marks.mark("fanout", 1234)
    report = api("GET", "/health/detailed", headers=admin).json_body
    checks = report["checks"]
    assert set(checks) >= {"dynamodb", "s3", "sqs", "stream", "workers"}
    assert all(c["status"] == "ok" and c["ms"] >= 0 for c in checks.values()), checks
    assert report["status"] == "ok" and report["version"] and report["uptime_s"] >= 0
    assert set(checks["sqs"]["queues"]) == {"work", "work_dlq", "jobs", "jobs_dlq", "notify", "notify_dlq"}
    assert checks["stream"]["lag_ms"] == 1234 and checks["stream"]["last_batch_age_s"] < 60
    # Public liveness stays as it was.
    assert api("GET", "/health").json_body["status"] == "ok"

    # A dead letter waiting, and a probe that fails: the report says so.
    dlq = svc.clients.sqs.get_queue_url(QueueName=svc.config.jobs_dlq)["QueueUrl"]
    svc.clients.sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    health_service.add_probe("data_dir", lambda: (_ for _ in ()).throw(OSError("disk gone")))
    try:
        report = api("GET", "/health/detailed", headers=admin).json_body
    finally:
        health_service._EXTRA.pop("data_dir", None)
        svc.clients.sqs.purge_queue(QueueUrl=dlq)
    assert report["checks"]["sqs"]["status"] == "degraded"
    assert report["checks"]["sqs"]["queues"]["jobs_dlq"]["visible"] == 1
    assert report["checks"]["data_dir"]["status"] == "down" and "disk gone" in report["checks"]["data_dir"]["error"]
    assert report["status"] == "down"


def test_the_worker_heartbeat_is_reported(api, svc, workers, origin, settled) -> None:
    import os

    from chalicelib.downloads.schemas import AddDownload
    from tests.support.engine import OWNER, wait_finished

    marks._last.clear()
    origin.add("/hb.bin", Resource(data=os.urandom(1000)))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/hb.bin")))
    wait_finished(svc, task.id)
    _, admin, _ = new_user("admin")
    workers_check = api("GET", "/health/detailed", headers=admin).json_body["checks"]["workers"]
    assert workers_check["status"] == "ok" and workers_check["heartbeat_age_s"] < 60



def test_a_deployed_stage_needs_its_setup_token(api, svc, fresh, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.api.errors import Forbidden

    class Token:
        required = True

        def check(self, presented: str | None) -> None:
            if presented != "one-time-token":
                raise Forbidden("the setup token is wrong", [{"field": "setup_token", "message": "is wrong"}])

    monkeypatch.setattr(svc.accounts, "setup_gate", Token())
    assert api("GET", "/setup/status").json_body["token_required"] is True
    body = {"kind": "webhook", "url": "http://127.0.0.1:9/"}
    assert api("POST", "/setup/test-notification", body).status_code == 403
    assert api("POST", "/setup/test-notification", {**body, "setup_token": "guess"}).status_code == 403
    admin = {"username": "first-admin", "password": "correct horse battery staple"}
    assert api("POST", "/setup/complete", admin).status_code == 403
    assert api("POST", "/setup/complete", admin, headers={"X-Setup-Token": "nope"}).status_code == 403
    tried = api("POST", "/setup/test-notification", body, headers={"X-Setup-Token": "one-time-token"})
    assert tried.status_code == 200 and tried.json_body["ok"] is False  # nothing listens there
    done = api("POST", "/setup/complete", {**admin, "setup_token": "one-time-token"})
    assert done.status_code == 201, done.body
    assert api("POST", "/setup/complete", {**admin, "setup_token": "one-time-token"}).status_code == 403
