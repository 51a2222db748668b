"""The transfer's service logic on in-memory fakes (tests/fakes/): planning, lanes, streams,
finishing, and the fencing and catch-up paths, without any emulator."""

from __future__ import annotations

import logging

import pytest

from chalicelib.adapters.origin import OriginError
from chalicelib.domain.states import TaskState
from chalicelib.transfer import Delivery
from chalicelib.transfer.ports import GenerationPlan
from tests.fakes.adapters import s3_error
from tests.fakes.rig import PART, Rig, body_of

URL = "http://origin.test/file.bin"


@pytest.fixture()
def rig() -> Rig:
    return Rig()


def test_a_ranged_file_is_planned_moved_in_lanes_and_completed(rig: Rig) -> None:
    body = body_of(2 * PART + 1000)
    task = rig.downloading(URL, body)
    rig.start(task)
    lanes = [m for m, _ in rig.queue.sent]
    assert [m["kind"] for m in lanes] == ["lane", "lane"] and [m["parts"] for m in lanes] == [[[1, 2]], [[3, 3]]]
    rig.drain()
    done = rig.task(task.id)
    assert done.state == TaskState.COMPLETED and done.parts_done == 3 and done.bytes_done == len(body)
    assert rig.store.objects[done.key] == body and not rig.store.uploads
    assert rig.engine.kicks == 1


def test_a_file_of_one_part_is_one_put_and_no_upload(rig: Rig) -> None:
    task = rig.downloading(URL, b"small file")
    rig.start(task)
    done = rig.task(task.id)
    assert done.state == TaskState.COMPLETED and done.upload_id is None
    assert rig.store.objects[done.key] == b"small file" and not rig.queue.sent and not rig.tasks.parts


def test_an_origin_without_ranges_is_streamed(rig: Rig) -> None:
    body = body_of(PART + 123)
    task = rig.downloading(URL, body, ranges=False)
    rig.start(task)
    assert [m["kind"] for m, _ in rig.queue.sent] == ["stream"]
    rig.drain()
    done = rig.task(task.id)
    assert done.state == TaskState.COMPLETED and done.part_count == 2 and rig.store.objects[done.key] == body


def test_a_stale_generations_part_is_refused(rig: Rig) -> None:
    """A lane fetching when the task is planned afresh: its part lands in the old generation,
    is not counted on the new one, and the new generation's plan is untouched."""
    task = rig.downloading(URL, body_of(2 * PART))
    rig.start(task)
    planned = rig.task(task.id)

    def replan(url: str, first: int, last: int) -> None:
        rig.origin.on_fetch = None
        current = rig.task(task.id)
        plan = GenerationPlan("file.bin", current.key, current.size, None, '"v1"', True, PART, 2, "up-new", None)
        assert rig.tasks.begin_generation(current, plan) is not None

    rig.origin.on_fetch = replan
    first_lane = rig.queue.take()[0]
    rig.transfer.handle(Delivery(first_lane))
    now = rig.task(task.id)
    assert now.gen == planned.gen + 1 and now.parts_done == 0 and now.upload_id == "up-new"
    assert rig.tasks.count_parts(task.id, now.gen) == 0


def test_a_redelivered_lane_whose_lane_moved_on_stores_only_its_own_part(rig: Rig) -> None:
    """S3 refuses part 1's upload after the lane was passed on: the retry is a catch-up of
    part 1 alone, refused as a claim (the lane is at step 2) and stored by Lanes.catch_up."""
    body = body_of(3 * PART)
    task = rig.downloading(URL, body)
    rig.settings.change(parallel_parts=1)
    rig.start(task)
    rig.store.fail_parts = [s3_error()]
    rig.transfer.handle(Delivery(rig.queue.take()[0]))
    sent = rig.queue.take()
    passed_on = [m for m in sent if m.get("step") == 2]
    retry = [m for m in sent if m.get("catch_up")]
    assert len(passed_on) == 1 and passed_on[0]["parts"] == [[2, 3]]
    assert len(retry) == 1 and retry[0]["parts"] == [[1, 1]] and retry[0]["attempt"] == 1
    rig.transfer.handle(Delivery(passed_on[0]))  # part 2, passes 3 on
    rig.transfer.handle(Delivery(retry[0], receive_count=1))  # claim refused -> catch-up of part 1
    assert rig.tasks.part_numbers(task.id, rig.task(task.id).gen) == [1, 2]
    rig.drain()
    done = rig.task(task.id)
    assert done.state == TaskState.COMPLETED and rig.store.objects[done.key] == body


def test_a_redelivery_finding_the_download_moved_on_does_nothing(rig: Rig) -> None:
    task = rig.downloading(URL, body_of(2 * PART))
    rig.start(task)
    lane = rig.queue.take()[0]
    paused = rig.tasks.send_back(rig.task(task.id), "user", "queue stopped")  # a new run
    assert paused is not None
    rig.transfer.handle(Delivery(lane, receive_count=2))
    assert rig.origin.fetches == [] and not rig.queue.sent and rig.tasks.count_parts(task.id, 1) == 0


def test_a_duplicate_copy_seen_first_is_dropped(rig: Rig) -> None:
    task = rig.downloading(URL, body_of(2 * PART))
    rig.start(task)
    lane = rig.queue.take()[0]
    rig.transfer.handle(Delivery(lane))
    fetched = len(rig.origin.fetches)
    rig.transfer.handle(Delivery({**lane, "token": "another copy"}))
    assert len(rig.origin.fetches) == fetched


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "lane", "task": "t1"},  # no run, gen, token...
        {"kind": "lane", "task": "t1", "run": 1, "gen": 1, "lane": "0", "step": 1, "token": "x", "parts": "1-3"},
        {"kind": "start", "task": "", "run": 1},
        {"kind": "start", "task": "t1", "run": "one"},
        {"kind": "teleport", "task": "t1"},
        ["not", "an", "object"],
    ],
)
def test_a_malformed_message_is_rejected_with_a_clear_log(
    rig: Rig, body: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="haul.transfer"):
        rig.transfer.handle(Delivery(body))  # type: ignore[arg-type]
    assert "malformed work message" in caplog.text and not rig.queue.sent


def test_a_retryable_origin_failure_is_retried_later_then_fails(rig: Rig) -> None:
    task = rig.downloading(URL, b"x" * 100)
    rig.origin.failures[URL] = [OriginError("HTTP 503", retryable=True)]
    rig.transfer.rand = lambda: 1.0  # the longest back-off of full jitter
    rig.start(task)
    (retry, delay), = rig.queue.sent
    assert retry["attempt"] == 1 and delay >= 1
    assert "retrying in" in (rig.task(task.id).note or "")
    rig.origin.failures[URL] = [OriginError("HTTP 404", retryable=False)]
    rig.drain()
    failed = rig.task(task.id)
    assert failed.state == TaskState.FAILED and failed.error == "HTTP 404"


def test_a_changed_source_restarts_with_a_new_generation(rig: Rig) -> None:
    body = body_of(2 * PART)
    task = rig.downloading(URL, body)
    rig.start(task)
    rig.origin.files[URL].etag = '"v2"'  # changed before the lanes fetch
    rig.drain()
    done = rig.task(task.id)
    assert done.state == TaskState.COMPLETED and done.gen == 2 and done.restarts == 1
    assert rig.store.objects[done.key] == body


def test_a_checksum_mismatch_fails_and_deletes_the_file(rig: Rig) -> None:
    task = rig.downloading(URL, b"content")
    rig.tasks.row(task.id).task.checksum = "sha256:" + "0" * 64
    rig.start(task)
    failed = rig.task(task.id)
    assert failed.state == TaskState.FAILED and "checksum mismatch" in (failed.error or "")
    assert failed.key not in rig.store.objects


def test_a_failed_completion_lets_go_of_the_finalisation(rig: Rig, monkeypatch: pytest.MonkeyPatch) -> None:
    task = rig.downloading(URL, body_of(2 * PART))
    rig.settings.change(parallel_parts=1)
    rig.start(task)
    def refuse(*args: object) -> None:
        raise s3_error()

    monkeypatch.setattr(rig.store, "complete", refuse)
    with pytest.raises(Exception, match="injected"):
        rig.drain()
    held = rig.task(task.id)
    assert held.state == TaskState.DOWNLOADING and held.phase == "transferring"
    assert rig.tasks.row(task.id).finalizing is None
    monkeypatch.undo()
    rig.transfer.finalize(held)
    assert rig.task(task.id).state == TaskState.COMPLETED


def test_dead_letters_fail_only_the_current_run(rig: Rig) -> None:
    task = rig.downloading(URL, b"abc")
    assert rig.transfer.dead_letter({"kind": "start", "task": task.id, "run": 0}, "5").value == "stale"
    assert rig.task(task.id).state == TaskState.DOWNLOADING
    rig.transfer.dead_letter({"kind": "start", "task": task.id, "run": 1}, "5")
    assert "failed 5 times" in (rig.task(task.id).error or "")
