"""Notifications against the emulator and real receivers on loopback: signed webhooks that
fail and are retried (then delivered, or dead-lettered after the limit), an Apprise target
(json://) receiving the test message and a real completion event from the tasks stream, the
secrets never shown, the SSRF guard, and the job actions and events (chalicelib/notify/)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from chalice.test import Client

from chalicelib.adapters.urlguard import UrlGuard
from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.jobs.models import CreateJob
from chalicelib.notify import signing
from chalicelib.persistence.models import JobModel, JobRunModel, NotifyDeliveryModel, NotifyTargetModel
from local_runtime.stream_poller import StreamPoller, stream_sources
from tests.support.api import json_caller
from tests.support.auth import new_user
from tests.support.engine import wait_finished
from tests.support.origin import Resource
from tests.support.receiver import Receiver
from tests.support.wait import wait_for

SECRET = "a webhook secret of some length"


@pytest.fixture()
def notify(svc, monkeypatch: pytest.MonkeyPatch):
    for model in (NotifyTargetModel, NotifyDeliveryModel):
        for item in model.scan():
            item.delete()
    for q in (svc.notify.queue, svc.notify.dlq):
        svc.clients.sqs.purge_queue(QueueUrl=q.url)
    monkeypatch.setattr(svc.notify, "backoff_seconds", 1)
    monkeypatch.setattr(svc.accounts, "rate_limit_per_minute", 0)
    return svc.notify


@pytest.fixture()
def api(svc):
    from app import app

    return json_caller(Client(app))


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET) as r:
        yield r


@pytest.fixture()
def notify_stream(svc) -> Iterator[StreamPoller]:
    """The tasks stream polled into ``notify_changes`` (from now on), as Lambda would."""
    import app as app_module

    (source,) = [s for s in stream_sources(app_module) if s.handler_name == "notify_changes"]
    session = boto3.session.Session()
    poller = StreamPoller(session.client("dynamodb"), session.client("dynamodbstreams"), source,
                          session.region_name or "us-east-1").start()
    yield poller
    poller.stop()


@pytest.fixture()
def notify_worker(svc) -> Iterator[None]:
    """Only the notify queue's consumer (no download worker: a dispatched task stays put)."""
    import app as app_module
    from local_runtime.sqs_poller import SqsPoller, sqs_sources

    (source,) = [s for s in sqs_sources(app_module) if s.queue_name == svc.config.notify_queue]
    poller = SqsPoller(svc.clients.sqs, source, 1, visibility_timeout=30, region=svc.config.region, wait_seconds=1)
    poller.start()
    yield
    poller.stop()


def person(role: str) -> tuple[Identity, dict[str, str]]:
    user_id, headers, grant = new_user(role)
    return Identity(user_id, grant["user"]["username"], Role(role)), headers


def delivery_of(target_id: str, status: str, timeout: float = 60) -> Any:
    def find() -> Any:
        done = [d for d in NotifyDeliveryModel.scan() if d.target_id == target_id and d.status == status]
        return done[0] if done else None

    return wait_for(find, timeout=timeout, what=f"a {status} delivery to {target_id}")


def test_a_signed_webhook_is_retried_after_500s_then_delivered(notify, api, receiver, workers) -> None:
    admin, admin_h = person("admin")
    _, user_h = person("user")
    receiver.fail_first = 2
    made = api(user_h, "POST", "/notifications/targets", {
        "name": "my hook", "kind": "webhook", "url": receiver.url("/hook?token=abc"), "secret": SECRET,
        "headers": {"X-Team": "blue"}, "events": ["download.completed"]})
    assert made.status_code == 201, made.body
    target = made.json_body
    sent = api(admin_h, "POST", "/notifications/send", {"title": "Maintenance", "message": "at 22:00",
                                                         "target_ids": [target["id"]], "level": "warning"})
    assert sent.status_code == 202
    delivery = delivery_of(target["id"], "delivered")
    assert delivery.attempts == 3 and delivery.delivered_at and delivery.last_error is None
    assert [r.status for r in receiver.received] == [500, 500, 200]
    assert all(r.signed for r in receiver.received)
    assert len({r.headers["x-haul-delivery"] for r in receiver.received}) == 1
    first = receiver.received[0]
    assert first.path == "/hook?token=abc" and first.headers["x-team"] == "blue"
    assert first.headers["x-haul-event"] == "message"
    body = first.json()
    assert body["schema"] == signing.SCHEMA and body["id"] == delivery.id and body["title"] == "Maintenance"
    assert body["level"] == "warning" and body["data"]["sent_by"] == admin.username
    # A tampered body or an old timestamp does not verify.
    header = first.headers["x-haul-signature"]
    t = int(header.split(",")[0][2:])
    assert signing.verify(SECRET, header, first.body, t)
    assert not signing.verify(SECRET, header, first.body + b" ", t)
    assert not signing.verify(SECRET, header, first.body, t + 3600)

    listed = api(user_h, "GET", "/notifications/deliveries")
    [shown] = listed.json_body["deliveries"]
    assert shown["status"] == "delivered" and shown["attempts"] == 3 and shown["target_name"] == "my hook"
    assert api(admin_h, "GET", "/notifications/deliveries?status=delivered").json_body["total"] >= 1
    assert api(user_h, "GET", "/notifications/deliveries?status=failed").json_body["total"] == 0


def test_a_webhook_that_keeps_failing_is_dead_lettered_after_the_last_attempt(
        notify, api, receiver, workers, svc, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notify, "attempts", 3)
    receiver.always_fail = True
    _, admin_h = person("admin")
    target = api(admin_h, "POST", "/notifications/targets", {
        "name": "down", "kind": "webhook", "url": receiver.url(), "secret": SECRET}).json_body
    api(admin_h, "POST", "/notifications/send", {"title": "t", "message": "m", "target_ids": [target["id"]]})
    delivery = delivery_of(target["id"], "failed")
    assert delivery.attempts == 3 and "HTTP 500" in delivery.last_error
    assert len(receiver.received) == 3
    dead = wait_for(lambda: svc.clients.sqs.receive_message(QueueUrl=notify.dlq.url, WaitTimeSeconds=1)
                    .get("Messages"), timeout=30, what="the dead letter")
    letter = json.loads(dead[0]["Body"])
    assert letter["delivery"] == delivery.id and letter["attempts"] == 3 and "HTTP 500" in letter["error"]
    shown = api(admin_h, "GET", f"/notifications/deliveries?target_id={target['id']}").json_body["deliveries"]
    assert [(d["status"], d["attempts"]) for d in shown] == [("failed", 3)]


def test_secrets_are_stored_sealed_and_never_returned(notify, api, receiver) -> None:
    _, h = person("user")
    _, other = person("user")
    url = receiver.url("/very/secret/path?key=hunter2-token")
    made = api(h, "POST", "/notifications/targets", {
        "name": "hook", "kind": "webhook", "url": url, "secret": SECRET, "headers": {"Authorization": "Bearer xyz"}})
    target = made.json_body
    answers = [made, api(h, "GET", f"/notifications/targets/{target['id']}"), api(h, "GET", "/notifications/targets"),
               api(h, "PATCH", f"/notifications/targets/{target['id']}", {"name": "renamed"})]
    for answer in answers:
        text = json.dumps(answer.json_body)
        for secret in ("hunter2", "secret/path", SECRET, "Bearer xyz"):
            assert secret not in text
    assert target["url"] == f"http://127.0.0.1:{receiver.port}/…" and target["has_secret"]
    assert target["headers"] == ["Authorization"]
    stored = NotifyTargetModel.get(target["id"])
    raw = json.dumps(stored.attribute_values, default=str)
    assert "hunter2" not in raw and SECRET not in raw and "Bearer xyz" not in raw
    # Someone else sees nothing of it.
    assert api(other, "GET", f"/notifications/targets/{target['id']}").status_code == 404
    assert api(other, "POST", f"/notifications/targets/{target['id']}/test").status_code == 404
    # The test button signs with the sealed secret and says what the receiver answered.
    tested = api(h, "POST", f"/notifications/targets/{target['id']}/test").json_body
    assert tested["ok"] and tested["status"] == 200 and '"ok": true' in tested["response"]
    assert receiver.received[-1].signed and receiver.received[-1].headers["authorization"] == "Bearer xyz"
    # Removing the secret: unsigned from now on.
    api(h, "PATCH", f"/notifications/targets/{target['id']}", {"secret": ""})
    assert api(h, "GET", f"/notifications/targets/{target['id']}").json_body["has_secret"] is False


def test_bad_targets_say_why(notify, api) -> None:
    _, h = person("user")
    for body, field in [
        ({"name": "x", "kind": "webhook", "url": "ftp://example.com/"}, "url"),
        ({"name": "x", "kind": "apprise", "url": "nosuchservice://abc"}, "url"),
        ({"name": "x", "kind": "apprise", "url": "json://127.0.0.1/", "secret": SECRET}, "secret"),
        ({"name": "x", "kind": "webhook", "url": "http://a.example/", "events": ["download.exploded"]}, "events"),
        ({"name": "x", "kind": "webhook", "url": "http://a.example/", "headers": {"Host": "x"}}, "headers"),
        ({"name": "x", "kind": "webhook", "url": "http://a.example/", "secret": "short"}, "secret"),
    ]:
        answer = api(h, "POST", "/notifications/targets", body)
        assert answer.status_code == 422, (body, answer.body)
        assert answer.json_body["error"]["details"][0]["field"] == field, answer.body
    _, viewer = person("viewer")
    assert api(viewer, "POST", "/notifications/targets",
               {"name": "x", "kind": "webhook", "url": "http://a.example/"}).status_code == 403
    _, user = person("user")
    assert (
        api(user, "POST", "/notifications/send", {"title": "t", "message": "m", "target_ids": ["x"]}).status_code == 403
    )


def test_target_urls_pass_the_ssrf_guard_on_a_deployed_stage(notify, api, monkeypatch: pytest.MonkeyPatch) -> None:
    strict = UrlGuard(allow_private=False)
    monkeypatch.setattr(notify, "guard", strict)
    monkeypatch.setattr(notify.senders, "guard", strict)
    _, h = person("user")
    for kind, url in [("webhook", "http://127.0.0.1:9/hook"), ("webhook", "http://169.254.169.254/latest/"),
                      ("apprise", "json://127.0.0.1:9/"), ("apprise", "ntfys://10.0.0.5/topic")]:
        answer = api(h, "POST", "/notifications/targets", {"name": "x", "kind": kind, "url": url})
        assert answer.status_code == 422, (url, answer.body)
        assert answer.json_body["error"]["details"][0]["field"] == "url"
    # A public service's URL is fine (nothing is sent here).
    ok = api(h, "POST", "/notifications/targets", {"name": "tg", "kind": "apprise",
                                                   "url": "tgram://123456789:abcdefghijklmnop/12345/"})
    assert ok.status_code == 201 and ok.json_body["url"] == "tgram://…"


def test_an_apprise_target_gets_the_test_message_and_a_real_completion_event(
        notify, api, svc, workers, origin, notify_stream, settled) -> None:
    user, h = person("user")
    with Receiver() as hub:
        target = api(h, "POST", "/notifications/targets", {
            "name": "json hub", "kind": "apprise", "url": f"json://127.0.0.1:{hub.port}/notify",
            "events": ["download.completed", "download.added"]}).json_body
        tested = api(h, "POST", f"/notifications/targets/{target['id']}/test")
        assert tested.status_code == 200 and tested.json_body["ok"] is True, tested.body
        first = hub.received[0].json()
        assert hub.received[0].path == "/notify" and first["title"] == "Haul test notification"
        assert user.username in first["message"]

        origin.add("/song.flac", Resource(data=os.urandom(300_000)))
        task = svc.downloads.add(user, AddDownload(url=origin.url("/song.flac")))
        assert wait_finished(svc, task.id).state == TaskState.COMPLETED
        def heard() -> set[str] | None:
            titles = {str(r.json()["title"]) for r in hub.received}
            return titles if titles >= {"Download complete", "Download added"} else None

        titles = wait_for(heard, timeout=60, what="the completion event")
        assert "Download complete" in titles
        done = next(r.json() for r in hub.received if r.json()["title"] == "Download complete")
        assert "song.flac is downloaded" in done["message"] and done["type"] == "info"
        # Not subscribed: no "started" message.
        assert "Download started" not in titles

        # A batch: one "Batch complete" once its last download finished (one failed: a warning).
        api(h, "PATCH", f"/notifications/targets/{target['id']}", {"events": ["batch.completed"]})
        origin.add("/b1.bin", Resource(data=os.urandom(2000)))
        made = svc.batches.create(user, {"name": "two files", "items": [{"url": origin.url("/b1.bin")},
                                                                          {"url": origin.url("/missing.bin")}]})
        for item in made["tasks"]:
            wait_finished(svc, item["id"])
        batch_done = wait_for(lambda: [r.json() for r in hub.received if r.json()["title"] == "Batch complete"],
                              timeout=60, what="the batch's event")
        assert len(batch_done) == 1 and batch_done[0]["message"] == "two files: 1 completed, 1 failed"
    statuses = api(h, "GET", "/notifications/deliveries").json_body["deliveries"]
    assert {d["event"] for d in statuses} >= {"test", "download.completed", "download.added"}
    assert all(d["status"] == "delivered" for d in statuses)


def test_jobs_send_notifications_and_their_failures_are_events(notify, svc, receiver, workers, origin) -> None:
    for model in (JobModel, JobRunModel):
        for item in model.scan():
            item.delete()
    user, _ = person("user")
    from chalicelib.notify.models import CreateTarget

    notify.create(user, CreateTarget(name="hook", kind="webhook", url=receiver.url(), secret=SECRET,
                                     events=["job.failed"]))
    told = svc.jobs.create(user, CreateJob.model_validate({
        "name": "remind", "cron": "0 0 1 1 *", "action": "send_notification",
        "params": {"title": "Weekly", "message": "check the queue"}}))
    svc.jobs.run_now(user, told.id)
    wait_for(lambda: any(r.json()["title"] == "Weekly" for r in receiver.received), what="the job's message")

    broken = svc.jobs.create(user, CreateJob.model_validate({
        "name": "fetch report", "cron": "0 0 1 1 *", "action": "add_urls",
        "params": {"urls": [origin.url("/no-such-report.csv")]}}))
    svc.jobs.run_now(user, broken.id)
    failed = wait_for(lambda: next((r.json() for r in receiver.received if r.json()["event"] == "job.failed"), None),
                      what="the job.failed event")
    assert failed["title"] == "Job failed: fetch report" and failed["data"]["job_id"] == broken.id
    assert "404" in failed["message"]


def test_feed_matches_and_failures_are_events(notify, svc, receiver, workers) -> None:
    from chalicelib.notify.models import CreateTarget
    from tests.support.feedserver import Doc, Entry, FeedServer, rss2

    user, _ = person("user")
    notify.create(user, CreateTarget(name="hook", kind="webhook", url=receiver.url(), secret=SECRET,
                                     events=["feed.matched", "feed.failed"]))
    with FeedServer() as server:
        url = server.add("/rss", Doc(body=rss2("Shows", [Entry(title="Show S01E01", link=server.url("/p/1"), guid="g1",
                                                                enclosure=server.url("/f/1.bin"), length=10)])))
        feed = svc.feeds.subscribe(user, {"url": url, "rules": [{"include": ["show"]}]})
        svc.feeds.refresh(user, feed.id)
        matched = wait_for(lambda: next((r.json() for r in receiver.received if r.json()["event"] == "feed.matched"),
                                        None), what="feed.matched")
        assert matched["data"]["feed_id"] == feed.id and "Show S01E01" in matched["message"]
        broken = svc.feeds.subscribe(user, {"url": server.url("/gone.rss")})
        svc.feeds.refresh(user, broken.id)
        failed = wait_for(lambda: next((r.json() for r in receiver.received if r.json()["event"] == "feed.failed"),
                                       None), what="feed.failed")
    assert failed["data"]["feed_id"] == broken.id and failed["level"] == "warning"
    assert all(r.signed for r in receiver.received)


def test_job_feed_and_batch_events_reach_the_websocket_notifications_room(notify, svc) -> None:
    """Download events reach the WebSocket from the fan-out; the others are pushed from here,
    as a ``notification`` message to the owner's ``notifications`` room (a real client)."""
    from websockets.sync.client import connect

    import app as app_module
    from chalicelib.container import reset_realtime
    from chalicelib.notify.events import Event, EventName
    from chalicelib.persistence.models import ConnectionModel
    from local_runtime.ws_gateway import WsGateway, websocket_handlers

    for item in ConnectionModel.scan():
        item.delete()
    gw = WsGateway(websocket_handlers(app_module), port=0, stage="test").start()
    before = os.environ.get("HAUL_WS_ENDPOINT")
    os.environ["HAUL_WS_ENDPOINT"] = gw.management_url
    reset_realtime()
    try:
        with connect(gw.url) as ws:  # the test stage's anonymous connection acts as the owner "local"
            ws.send(json.dumps({"action": "subscribe", "rooms": ["notifications"]}))
            assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
            notify.publish(Event(EventName.JOB_FAILED, "local", "Job failed: nightly", "nightly failed: boom", "error",
                                 {"job_id": "j1"}))
            message = json.loads(ws.recv(timeout=10))
    finally:
        gw.stop()
        if before is None:
            os.environ.pop("HAUL_WS_ENDPOINT", None)
        else:
            os.environ["HAUL_WS_ENDPOINT"] = before
        reset_realtime()
    assert message["type"] == "notification"
    assert message["data"] == {"level": "error", "title": "Job failed: nightly", "message": "nightly failed: boom",
                               "event": "job.failed", "job_id": "j1"}


def events_to(target_id: str, event: str) -> list[Any]:
    """The deliveries opened for ``target_id`` of ``event`` (opened when published, so counted at once)."""
    return [d for d in NotifyDeliveryModel.scan() if d.target_id == target_id and d.event == event]


def heard(receiver: Receiver, event: str, what: str) -> Any:
    return wait_for(lambda: next((r.json() for r in receiver.received if r.json()["event"] == event), None),
                    timeout=60, what=what)


def test_a_dead_lettered_download_is_an_error_event(notify, svc, receiver, notify_worker, settled) -> None:
    from chalicelib.notify.models import CreateTarget
    from tests.functional.test_api import DEAD
    from tests.functional.test_dead_letters import dead, running
    from tests.support.engine import OWNER

    target = notify.create(OWNER, CreateTarget(name="ops", kind="webhook", url=receiver.url(), secret=SECRET,
                                               events=["error"]))
    task = running(svc)
    assert task.url == DEAD
    dead(svc, {"kind": "lane", "task": task.id, "run": task.run, "gen": task.gen, "lane": "0"})
    assert svc.repo.get(task.id).state == TaskState.FAILED
    body = heard(receiver, "error", "the dead letter's error event")
    assert body["level"] == "error" and body["data"]["condition"] == "dead_letter"
    assert body["data"]["task_id"] == task.id and body["data"]["message_kind"] == "lane"
    assert "failed 5 times in a row" in body["message"]
    assert receiver.received[0].signed
    # The same dead letter again (SQS redelivers): the task moved on, nothing more is published.
    dead(svc, {"kind": "lane", "task": task.id, "run": task.run, "gen": task.gen, "lane": "0"})
    assert len(events_to(target.id, "error")) == 1


def test_a_feed_failing_repeatedly_is_one_error_event(notify, svc, receiver, notify_worker) -> None:
    from chalicelib.notify.events import FEED_ERROR_STREAK
    from chalicelib.notify.models import CreateTarget
    from tests.support.feedserver import FeedServer

    user, _ = person("user")
    target = notify.create(user, CreateTarget(name="hook", kind="webhook", url=receiver.url(), secret=SECRET,
                                              events=["error"]))
    with FeedServer() as server:
        broken = svc.feeds.subscribe(user, {"url": server.url("/gone.rss")})
        for n in range(1, FEED_ERROR_STREAK + 2):
            assert svc.feeds.refresh(user, broken.id)["status"] == "failed"
            assert len(events_to(target.id, "error")) == (0 if n < FEED_ERROR_STREAK else 1)
    body = heard(receiver, "error", "the feed's error event")
    assert body["data"]["condition"] == "feed_failing" and body["data"]["feed_id"] == broken.id
    assert body["data"]["failures"] == FEED_ERROR_STREAK and body["level"] == "error"


def test_a_target_failing_for_good_is_an_error_event_for_the_other_targets(
        notify, svc, receiver, notify_worker, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.notify.models import CreateTarget, SendMessage

    monkeypatch.setattr(notify, "attempts", 1)
    admin, _ = person("admin")
    with Receiver(always_fail=True) as down:
        bad = notify.create(admin, CreateTarget(name="pager", kind="webhook", url=down.url(), events=["error"]))
        good = notify.create(admin, CreateTarget(name="mail", kind="webhook", url=receiver.url(), secret=SECRET,
                                                 events=["error"]))
        notify.send(admin, SendMessage(title="Maintenance", message="at 22:00", target_ids=[bad.id]))
        body = heard(receiver, "error", "the failing target's error event")
        assert body["data"]["condition"] == "target_failing" and body["data"]["target_id"] == bad.id
        assert "pager" in body["title"] and "HTTP 500" in body["message"]
        # Not to the failing target itself; and its failing error would not make another.
        assert events_to(bad.id, "error") == [] and len(down.received) == 1
        assert len(events_to(good.id, "error")) == 1


def test_a_delivery_whose_queue_send_failed_is_queued_by_the_retried_stream_batch(
        notify, svc, receiver, notify_worker, notify_stream, settled, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stream consumer opens the delivery, then SQS refuses the send: the batch is retried,
    finds the delivery open (pending, attempt 0) and queues it then, once."""
    from chalicelib.notify.models import CreateTarget

    user, _ = person("user")
    target = notify.create(user, CreateTarget(name="hook", kind="webhook", url=receiver.url(), secret=SECRET,
                                              events=["download.added"]))
    real_send = notify.queue.send
    refused: list[Any] = []

    def send_once_refused(body: Any, **kwargs: Any) -> Any:
        if not refused:
            refused.append(body)
            raise RuntimeError("SQS is unavailable (injected)")
        return real_send(body, **kwargs)

    monkeypatch.setattr(notify.queue, "send", send_once_refused)
    from tests.functional.test_api import DEAD

    task = svc.downloads.add(user, AddDownload(url=DEAD, allow_duplicate=True))
    body = heard(receiver, "download.added", "the added event, after the retried batch")
    assert refused and refused[0]["delivery"] == body["id"]
    assert body["data"]["task_id"] == task.id
    delivery = delivery_of(target.id, "delivered")
    assert delivery.attempts == 1 and len(events_to(target.id, "download.added")) == 1
    assert [r.json()["event"] for r in receiver.received] == ["download.added"]
