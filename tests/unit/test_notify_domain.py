"""Notification events from task changes, webhook signatures and retry delays (pure)."""

from __future__ import annotations

import dataclasses
import json

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.notify import signing
from chalicelib.notify.events import (
    DAY_MS,
    FEED_ERROR_STREAK,
    EventName,
    batch_outcome,
    dead_letter_error,
    delivery_error,
    feed_error,
    task_events,
)
from chalicelib.notify.senders import display_url
from chalicelib.notify.service import backoff


def task(state: TaskState, **extra: object) -> Task:
    fields = {f.name for f in dataclasses.fields(Task)}
    base = {"id": "t1", "owner": "u1", "url": "https://example.com/a.iso", "filename": "a.iso", "key": "k",
            "state": state, "created_at": 1, "updated_at": 1}
    base.update(extra)
    return Task(**{k: v for k, v in base.items() if k in fields})  # type: ignore[arg-type]


def names(old: Task | None, new: Task | None) -> list[str]:
    return [e.name.value for e in task_events(old, new)]


def test_task_changes_make_download_events() -> None:
    assert names(None, task(TaskState.QUEUED)) == ["download.added"]
    assert names(task(TaskState.QUEUED), task(TaskState.DOWNLOADING, started_at=5)) == ["download.started"]
    # A resumed or retried download has started before: no second "started".
    assert names(task(TaskState.QUEUED, started_at=5), task(TaskState.DOWNLOADING, started_at=5)) == []
    done = task_events(task(TaskState.DOWNLOADING), task(TaskState.COMPLETED, size=3 * 1024 * 1024))
    assert [e.name for e in done] == [EventName.DOWNLOAD_COMPLETED]
    assert done[0].message == "a.iso is downloaded (3.0 MiB)" and done[0].level == "success"
    failed = task_events(task(TaskState.DOWNLOADING), task(TaskState.FAILED, error="HTTP 404"))
    assert failed[0].name == EventName.DOWNLOAD_FAILED and "HTTP 404" in failed[0].message
    assert names(task(TaskState.DOWNLOADING), task(TaskState.DOWNLOADING)) == []  # progress
    assert names(task(TaskState.COMPLETED), None) == []  # removed
    assert names(task(TaskState.DOWNLOADING), task(TaskState.PAUSED)) == []


def test_signature_round_trip_and_replay_window() -> None:
    body = signing.body("d1", "test", "2025-01-01T00:00:00.000Z", "T", "M", "info", {"a": 1})
    assert json.loads(body)["schema"] == "haul.notification/1"
    header = signing.signature("s" * 20, 1_700_000_000, body)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert signing.verify("s" * 20, header, body, 1_700_000_100)
    assert not signing.verify("s" * 20, header, body, 1_700_000_000 + 301)  # a replay, later
    assert not signing.verify("t" * 20, header, body, 1_700_000_000)
    assert not signing.verify("s" * 20, header, body.replace(b'"M"', b'"N"'), 1_700_000_000)
    assert not signing.verify("s" * 20, None, body, 1_700_000_000)
    assert not signing.verify("s" * 20, "garbage", body, 1_700_000_000)


def test_retry_delays_double_up_to_sqs_limit() -> None:
    assert [backoff(n, 30) for n in (1, 2, 3, 4, 5, 6)] == [30, 60, 120, 240, 480, 900]
    assert backoff(40, 30) == 900 and backoff(1, 0.2) == 1


def test_urls_are_shown_without_their_secrets() -> None:
    assert display_url("webhook", "https://user:pw@hooks.example.com:8443/T0/B0/XyZ?token=1") == \
        "https://hooks.example.com:8443/…"
    assert display_url("apprise", "tgram://123:abc/456") == "tgram://…"
    assert display_url("apprise", "gotifys://push.example.org/AbCdEf") == "gotifys://push.example.org/…"


def test_a_batch_completes_with_its_last_unfinished_task() -> None:
    def member(i: int, state: TaskState) -> Task:
        return dataclasses.replace(task(state), id=f"t{i}", batch_id="b1", batch_name="isos")

    others = [member(1, TaskState.COMPLETED), member(2, TaskState.FAILED), member(3, TaskState.DOWNLOADING)]
    last = member(3, TaskState.COMPLETED)
    done = batch_outcome(last, others)  # the index still shows t3 downloading
    assert done is not None and done.name == EventName.BATCH_COMPLETED
    assert done.message == "isos: 2 completed, 1 failed" and done.level == "warning"
    assert done.key == "batch:b1:2:1:0"
    assert batch_outcome(last, [*others, member(4, TaskState.QUEUED)]) is None
    assert batch_outcome(dataclasses.replace(last, batch_id=None), others) is None
    assert batch_outcome(member(3, TaskState.PAUSED), others) is None


def test_a_dead_lettered_download_is_an_error_keyed_by_its_run() -> None:
    failed = task(TaskState.FAILED, run=2, gen=1, error="a lane message failed 5 times in a row")
    event = dead_letter_error(failed, "lane", "5")
    assert event.name == EventName.ERROR and event.owner == "u1" and event.level == "error"
    assert event.data["condition"] == "dead_letter" and event.data["task_id"] == "t1"
    assert "a.iso" in event.message and "lane message failed 5 times" in event.message
    # The same dead letter (redelivered) keys the same; a later run's keys anew.
    assert event.key == dead_letter_error(failed, "lane", "6").key
    assert event.key != dead_letter_error(dataclasses.replace(failed, run=3), "lane", "5").key


def test_a_feed_is_an_error_once_per_streak_of_failures() -> None:
    made = [feed_error("f1", "Shows", "u1", n, "HTTP 503", 1000) for n in range(1, FEED_ERROR_STREAK + 3)]
    alerts = [e for e in made if e is not None]
    assert len(alerts) == 1 and alerts[0].data["failures"] == FEED_ERROR_STREAK
    assert alerts[0].name == EventName.ERROR and "HTTP 503" in alerts[0].message
    # A new streak (after a success) is a new occurrence; the same streak read twice is not.
    again = feed_error("f1", "Shows", "u1", FEED_ERROR_STREAK, "HTTP 503", 1000)
    later = feed_error("f1", "Shows", "u1", FEED_ERROR_STREAK, "HTTP 503", 5000)
    assert again is not None and later is not None
    assert again.key == alerts[0].key != later.key


def test_a_target_failing_for_good_is_an_error_once_a_day_but_never_about_an_error() -> None:
    first = delivery_error("u1", "t9", "phone", "download.completed", 5, "HTTP 500", 3 * DAY_MS + 10)
    assert first is not None and first.name == EventName.ERROR and first.data["target_id"] == "t9"
    assert "phone" in first.message and "HTTP 500" in first.message
    same_day = delivery_error("u1", "t9", "phone", "batch.completed", 5, "HTTP 502", 4 * DAY_MS - 1)
    next_day = delivery_error("u1", "t9", "phone", "download.completed", 5, "HTTP 500", 4 * DAY_MS)
    assert same_day is not None and next_day is not None
    assert same_day.key == first.key != next_day.key
    assert delivery_error("u1", "t9", "phone", "error", 5, "HTTP 500", 0) is None
    assert delivery_error("u1", "t9", "phone", "test", 1, "HTTP 500", 0) is None
