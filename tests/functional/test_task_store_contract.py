"""The task repository's contract, run against the in-memory fake (tests/fakes/tasks.py) and
the DynamoDB implementation (chalicelib/persistence/tasks.py, on moto): the unit tests of
the services trust the fake to behave as the real store does, and this is what holds it to
that (as Chalice's sample apps run one test class against both of their DB interfaces)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.adapters.s3 import UploadedPart
from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.downloads.batches import BatchStore
from chalicelib.transfer.ports import ActionChange, GenerationPlan, LaneClaim, TaskEdit, TaskStore
from tests.fakes.batches import FakeBatches
from tests.fakes.clock import ManualClock
from tests.fakes.tasks import FakeTasks

DL = TaskState.DOWNLOADING
NOW = 1_700_000_000_000


@pytest.fixture(params=["fake", "dynamodb"])
def tasks(request: pytest.FixtureRequest) -> Iterator[TaskStore]:
    if request.param == "fake":
        yield FakeTasks(ManualClock(NOW))
        return
    request.getfixturevalue("emulator")
    from chalicelib.persistence.tasks import DynamoTasks

    yield DynamoTasks(clock=ManualClock(NOW))


def _task(store: TaskStore, state: TaskState = DL, **values: object) -> Task:
    tid = str(uuid.uuid4())
    owner = str(values.pop("owner", f"u-{tid[:8]}"))
    fields: dict[str, object] = {"run": 1, "gen": 1, "size": 30, "part_size": 10, "part_count": 3,
                                 "upload_id": "up-1", **values}
    fields.setdefault("created_at", NOW)
    task = Task(id=tid, owner=owner, url=f"http://origin.test/{tid}", filename="f.bin", key=f"downloads/{tid}/f.bin",
                state=state, updated_at=NOW, **fields)  # type: ignore[arg-type]
    store.create(task, actor="tester")
    got = store.get(tid)
    assert got is not None
    return got


def test_create_and_read(tasks: TaskStore) -> None:
    t = _task(tasks, headers={"X-A": "1"}, tags=["a"])
    assert tasks.get(t.id) == t and t.headers == {"X-A": "1"} and t.tags == ["a"]
    assert tasks.get(str(uuid.uuid4())) is None
    assert tasks.get_many([t.id, "nope"]) == {t.id: t}
    assert tasks.owners_of([t.id]) == {t.id: t.owner}


def test_a_lane_claims_each_step_once(tasks: TaskStore) -> None:
    t = _task(tasks)
    claim = LaneClaim(t.id, t.run, t.gen, "0", 1, "tok-a")
    assert tasks.claim_lane(claim) is not None
    assert tasks.claim_lane(claim) is not None  # a redelivery of the same message
    assert tasks.claim_lane(replace(claim, token="tok-b")) is None  # a duplicate copy of the step
    assert tasks.claim_lane(replace(claim, step=2, token="tok-c")) is not None  # the lane passed on
    assert tasks.claim_lane(claim) is None  # the lane has moved on past step 1
    assert tasks.claim_lane(replace(claim, lane="1", run=t.run + 1)) is None  # another run
    assert tasks.claim_lane(replace(claim, lane="1", gen=t.gen + 1)) is None  # another generation
    paused = _task(tasks, TaskState.PAUSED)
    assert tasks.claim_lane(LaneClaim(paused.id, paused.run, paused.gen, "0", 1, "t")) is None


def test_a_part_is_counted_once_and_only_for_its_generation(tasks: TaskStore) -> None:
    t = _task(tasks)
    part = UploadedPart(1, "etag-1", None)
    counted = tasks.record_part(t, t.gen, "0", part, 10)
    assert counted is not None and counted.parts_done == 1 and counted.bytes_done == 10
    assert tasks.record_part(t, t.gen, "0", part, 10) is None  # a duplicate delivery
    assert tasks.count_parts(t.id, t.gen) == 1 and tasks.has_part(t.id, t.gen, 1)
    # A stale generation's write is refused (the task was planned afresh meanwhile).
    assert tasks.record_part(t, t.gen - 1, "0", UploadedPart(2, "e2", None), 10) is None
    again = tasks.get(t.id)
    assert again is not None and again.parts_done == 1
    tasks.record_part(t, t.gen, "1", UploadedPart(3, "etag-3", "crc"), 10)
    assert tasks.part_numbers(t.id, t.gen) == [1, 3]
    assert list(tasks.iter_parts(t.id, t.gen)) == [part, UploadedPart(3, "etag-3", "crc")]
    assert tasks.delete_parts(t.id, below_gen=t.gen) == 1  # the stale generation's part
    assert tasks.delete_parts(t.id) == 2 and tasks.part_numbers(t.id, t.gen) == []


def test_a_part_landing_after_a_cancel_is_taken_back(tasks: TaskStore) -> None:
    t = _task(tasks, TaskState.CANCELLED)
    assert tasks.record_part(t, t.gen, "0", UploadedPart(1, "e", None), 10) is None
    assert not tasks.has_part(t.id, t.gen, 1)


def _plan(**values: object) -> GenerationPlan:
    base = GenerationPlan("new.bin", "downloads/x/new.bin", 40, "text/plain", '"v2"', True, 10, 4, "up-2", None)
    return replace(base, **values)  # type: ignore[arg-type]


def test_only_one_start_plans_the_next_generation(tasks: TaskStore) -> None:
    t = _task(tasks)
    tasks.claim_lane(LaneClaim(t.id, t.run, t.gen, "0", 3, "tok"))
    moved = tasks.begin_generation(t, _plan())
    assert moved is not None and moved.gen == t.gen + 1 and moved.upload_id == "up-2" and moved.size == 40
    assert moved.parts_done == 0 and moved.phase == "transferring" and moved.filename == "new.bin"
    assert tasks.begin_generation(t, _plan()) is None  # a duplicate start of the same generation
    # The new generation's lanes start from step 1 again.
    assert tasks.claim_lane(LaneClaim(t.id, t.run, moved.gen, "0", 1, "tok-new")) is not None
    stream = tasks.begin_generation(moved, _plan(size=None, part_count=None, upload_id="up-3", resumable=False,
                                                 content_type=None, validator=None, note="streamed"))
    assert stream is not None and stream.size is None and stream.part_count is None and stream.note == "streamed"
    assert stream.content_type is None and stream.validator is None and not stream.resumable


def test_a_filename_fixed_meanwhile_fences_the_plan(tasks: TaskStore) -> None:
    t = _task(tasks, TaskState.QUEUED, upload_id=None)
    renamed = replace(t, filename="mine.bin", filename_locked=True, key=f"downloads/{t.id}/mine.bin")
    fixed = tasks.edit(t, TaskEdit("user", renamed=renamed, fence="unstarted"))
    assert fixed is not None and fixed.filename_locked and fixed.key.endswith("/mine.bin")
    started = tasks.start_download(fixed, "engine")
    assert started is not None
    assert tasks.begin_generation(replace(started, filename_locked=False), _plan()) is None
    assert tasks.begin_generation(started, _plan()) is not None


def test_progress_is_fenced_by_run_or_a_hold_of_the_generation(tasks: TaskStore) -> None:
    t = _task(tasks)
    now = tasks.lane_progress(t, "0", "0'", 500, 42)
    assert now is not None and now.lane_bytes == {"0'": 500} and now.lane_speed == {"0": 42}
    assert tasks.lane_progress(replace(t, run=t.run - 1), "0", "0", 1, 1) is None
    held = tasks.send_back(t, "engine", "queue stopped")
    assert held is not None and held.state == TaskState.QUEUED and held.phase == "held" and held.run == t.run + 1
    assert tasks.lane_progress(t, "0", "0", 600, 40) is not None  # the part in flight still lands
    tasks.lane_done(t, "0")
    after = tasks.get(t.id)
    assert after is not None and after.lane_speed == {"0": 0}


def test_finalisation_is_claimed_once_and_completes_under_its_token(tasks: TaskStore) -> None:
    t = _task(tasks)
    claimed = tasks.claim_finalize(t, "fin-1")
    assert claimed is not None and claimed.phase == "finalizing"
    assert tasks.claim_finalize(t, "fin-2") is None
    assert tasks.send_back(t, "engine", "stop") is None  # a finalising task is left to complete
    tasks.release_finalize(t, "fin-2")  # not the holder: nothing happens
    assert tasks.claim_finalize(t, "fin-3") is None
    tasks.release_finalize(t, "fin-1")
    assert tasks.claim_finalize(t, "fin-3") is not None
    assert tasks.complete(t, "fin-1", None, "engine") is None
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    done = tasks.complete(t, "fin-3", expires, "engine")
    assert done is not None and done.state == TaskState.COMPLETED and done.finished_at is not None
    assert done.parts_done == 3 and done.bytes_done == 30 and done.phase is None


def test_a_single_put_completes_its_own_run_and_generation(tasks: TaskStore) -> None:
    t = _task(tasks, part_count=1)
    assert tasks.complete(replace(t, gen=t.gen + 1), None, None, "engine") is None
    done = tasks.complete(t, None, None, "engine")
    assert done is not None and done.state == TaskState.COMPLETED and done.parts_done == 1


def test_fail_and_restart_are_fenced_by_run(tasks: TaskStore) -> None:
    t = _task(tasks)
    assert tasks.fail(replace(t, run=t.run - 1), "late", None, "engine") is None
    again = tasks.restart_run(t, "the source changed", "engine")
    assert again is not None and again.run == t.run + 1 and again.restarts == 1 and again.note == "the source changed"
    assert tasks.restart_run(t, "twice", "engine") is None
    failed = tasks.fail(again, "broken", None, "engine", forget_upload=True)
    assert failed is not None and failed.state == TaskState.FAILED and failed.error == "broken"
    assert failed.upload_id is None and failed.finished_at is not None


def test_notes_retries_and_slowness(tasks: TaskStore) -> None:
    t = _task(tasks)
    r = tasks.note_retry(t, NOW + 5000, "retrying in 5 s")
    assert r is not None and r.heartbeat == NOW + 5000 and r.note == "retrying in 5 s"
    w = tasks.note_waiting(t, "waiting for a free connection to h")
    assert w is not None and w.note == "waiting for a free connection to h"
    assert tasks.note_waiting(replace(t, run=t.run + 1), "x") is None
    tasks.clear_note(t, "another note")
    assert (tasks.get(t.id) or t).note == "waiting for a free connection to h"
    tasks.clear_note(t, "waiting for a free connection to h")
    assert (tasks.get(t.id) or t).note is None
    tasks.mark_slow(t, NOW)
    tasks.mark_slow(t, NOW + 1)  # already marked: kept
    slow = tasks.get(t.id)
    assert slow is not None and slow.slow_since == NOW
    tasks.renew_slow(t, NOW + 2)  # ``t`` saw no mark: refused
    assert (tasks.get(t.id) or t).slow_since == NOW
    tasks.renew_slow(slow, NOW + 3)
    assert (tasks.get(t.id) or t).slow_since == NOW + 3
    tasks.clear_slow(t)
    assert (tasks.get(t.id) or t).slow_since is None


def test_resume_revive_stream_and_send_back_with_an_order(tasks: TaskStore) -> None:
    t = _task(tasks, lane_speed={"0": 5})
    tasks.claim_lane(LaneClaim(t.id, t.run, t.gen, "0", 4, "a"))
    resumed = tasks.resume_run(t)
    assert resumed is not None and resumed.lane_speed == {} and resumed.phase == "transferring"
    assert tasks.claim_lane(LaneClaim(t.id, t.run, t.gen, "0", 1, "b")) is not None  # steps start over
    measured = tasks.stream_measured(t, 1234, 2)
    assert measured is not None and measured.size == 1234 and measured.part_count == 2
    revived = tasks.revive(t, counted=True)
    assert revived is not None and revived.run == t.run + 1 and revived.restarts == 1 and revived.phase == "starting"
    assert tasks.revive(t, counted=False) is None
    back = tasks.send_back(revived, "engine", "slow", order=77)
    assert back is not None and back.order == 77 and back.state == TaskState.QUEUED


def test_the_queue_and_starting(tasks: TaskStore) -> None:
    owner = f"o-{uuid.uuid4().hex[:8]}"
    low = _task(tasks, TaskState.QUEUED, owner=owner, priority=0, order=5)
    high = _task(tasks, TaskState.QUEUED, owner=owner, priority=10, order=9)
    early = _task(tasks, TaskState.QUEUED, owner=owner, priority=0, order=1)
    assert tasks.queue_of(owner, 10) == [high.id, early.id, low.id]
    assert tasks.queue_of(owner, 1) == [high.id] and tasks.queue_of(owner, 0) == []
    assert {t.id for t in tasks.in_state_of(owner, TaskState.QUEUED)} == {low.id, high.id, early.id}
    assert tasks.in_state_of(owner, TaskState.FAILED) == []
    queued = tasks.ids_in_state(TaskState.QUEUED)
    assert [i for i in queued if i in {low.id, high.id, early.id}] == [high.id, early.id, low.id]
    started = tasks.start_download(high, "engine")
    assert started is not None and started.state == DL and started.run == high.run + 1
    assert started.started_at is not None and started.phase == "starting"
    assert tasks.start_download(high, "engine") is None
    assert tasks.queue_of(owner, 10) == [early.id, low.id]
    moved = tasks.reorder(low, 0, "user")
    assert moved is not None and tasks.queue_of(owner, 10) == [low.id, early.id]
    assert tasks.reorder(replace(low, priority=3), 1, "user") is None  # the priority changed meanwhile
    placed = tasks.place(moved, 10, 2, "user")
    assert placed is not None and placed.priority == 10
    assert tasks.place(moved, 10, 3, "user") is None  # ``moved`` is out of date now


def test_a_rename_is_fenced_by_upload_or_completion(tasks: TaskStore) -> None:
    t = _task(tasks, TaskState.COMPLETED, metadata={"kind": "movie", "title": "Heat"})
    moved = replace(t, key="library/Heat.mkv", metadata={"kind": "movie", "title": "Heat", "year": 1995})
    assert tasks.edit(replace(t, key="elsewhere"), TaskEdit("user", renamed=moved, fence="completed")) is None
    done = tasks.edit(t, TaskEdit("user", renamed=moved, fence="completed"))
    assert done is not None and done.key == "library/Heat.mkv" and done.metadata == moved.metadata
    started = _task(tasks)  # it has an upload: a rename must find that very upload
    assert tasks.edit(replace(started, upload_id="other"), TaskEdit("user", renamed=started, fence="unstarted")) is None
    assert tasks.edit(started, TaskEdit("user", renamed=replace(started, path="tv"), fence="unstarted")) is None
    # Being stored: it keeps its key and is to move to ``target`` once stored.
    moving = tasks.edit(started, TaskEdit("user", renamed=replace(started, target="tv/x.mkv"), fence="transferring"))
    assert moving is not None and moving.target == "tv/x.mkv" and moving.key == started.key
    assert tasks.move_stored(replace(moving, key="elsewhere"), "tv/x.mkv") is None
    assert tasks.move_stored(moving, "other.mkv") is None
    settled = tasks.move_stored(moving, "tv/x.mkv")
    assert settled is not None and settled.key == "tv/x.mkv" and settled.target is None
    queued = _task(tasks, TaskState.QUEUED, upload_id=None)  # not started: the key itself changes
    assert tasks.edit(replace(queued, key="other"), TaskEdit("user", renamed=queued, fence="unstarted")) is None
    assert tasks.edit(queued, TaskEdit("user", renamed=replace(queued, key="tv/y.mkv"), fence="unstarted")) is not None


def test_edits_and_actions(tasks: TaskStore) -> None:
    t = _task(tasks, TaskState.QUEUED, upload_id=None, order=4)
    edited = tasks.edit(t, TaskEdit("user", priority=10, set_speed_limit=True, speed_limit=1000))
    assert edited is not None and edited.priority == 10 and edited.speed_limit == 1000
    assert tasks.edit(replace(t, order=5), TaskEdit("user", priority=1)) is None  # the order moved meanwhile
    cleared = tasks.edit(t, TaskEdit("user", set_speed_limit=True, speed_limit=None))
    assert cleared is not None and cleared.speed_limit is None
    running = tasks.start_download(edited, "engine")
    assert running is not None
    pause = ActionChange((TaskState.QUEUED, DL), TaskState.PAUSED, "user", new_run=True)
    paused = tasks.act(running, pause)
    assert paused is not None and paused.state == TaskState.PAUSED and paused.run == running.run + 1
    assert tasks.act(running, pause) is None  # a stale run
    cancel = ActionChange((TaskState.PAUSED,), TaskState.CANCELLED, "user", new_run=True, finished=True)
    cancelled = tasks.act(paused, cancel)
    assert cancelled is not None and cancelled.finished_at is not None and cancelled.upload_id is None
    retry = ActionChange((TaskState.CANCELLED,), TaskState.QUEUED, "user", reopen=True, fresh=True)
    retried = tasks.act(cancelled, retry)
    assert retried is not None and retried.state == TaskState.QUEUED and retried.finished_at is None
    gone = tasks.cancel_for_delete(retried, "user")
    assert gone is not None and gone.state == TaskState.CANCELLED and gone.run == retried.run + 1
    tasks.delete(t.id)
    assert tasks.get(t.id) is None


def test_history_sweep(tasks: TaskStore) -> None:
    t = _task(tasks)
    expires = datetime.fromtimestamp(NOW / 1000 + 60, tz=UTC)
    done = tasks.fail(t, "x", expires, "engine")
    assert done is not None
    due = int(expires.timestamp()) + 1
    assert t.id not in tasks.expired(due - 120, 1000)
    assert t.id in tasks.expired(due, 1000)
    keep = _task(tasks, TaskState.QUEUED)
    assert not tasks.delete_expired(keep.id, due)  # not finished: never deleted
    assert not tasks.delete_expired(t.id, due - 120)  # not expired yet
    assert tasks.delete_expired(t.id, due) and tasks.get(t.id) is None


def test_duplicates_by_url_newest_first(tasks: TaskStore) -> None:
    from chalicelib.domain.urls import dedupe_key

    first = _task(tasks, TaskState.COMPLETED)
    owner, url = first.owner, first.url
    second = Task(id=str(uuid.uuid4()), owner=owner, url=url, filename="f", key="k", created_at=NOW + 5, updated_at=NOW)
    tasks.create(second)
    assert tasks.ids_by_url(dedupe_key(owner, url), 50) == [second.id, first.id]
    assert tasks.ids_by_url(dedupe_key("someone-else", url), 50) == []


def test_batches_belong_to_one_owner(tasks: TaskStore) -> None:
    batch = str(uuid.uuid4())
    assert tasks.claim_batch(batch, "alice", "films")
    assert tasks.claim_batch(batch, "alice")
    assert not tasks.claim_batch(batch, "bob")


# -- the batch store (chalicelib/downloads/batches.py BatchStore) ------------------------------------------


@pytest.fixture(params=["fake", "dynamodb"])
def batch_stores(request: pytest.FixtureRequest) -> Iterator[tuple[TaskStore, BatchStore]]:
    if request.param == "fake":
        fake = FakeTasks(ManualClock(NOW))
        yield fake, FakeBatches(fake)
        return
    request.getfixturevalue("emulator")
    from chalicelib.config import Config
    from chalicelib.container import dynamodb_client
    from chalicelib.persistence.batches import DynamoBatches
    from chalicelib.persistence.tasks import DynamoTasks

    config = Config.from_env()
    yield DynamoTasks(clock=ManualClock(NOW)), DynamoBatches(dynamodb_client(config), config.batches_table)


def test_batches_are_paged_newest_first_and_deleted(batch_stores: tuple[TaskStore, BatchStore]) -> None:
    tasks, batches = batch_stores
    owner = f"o-{uuid.uuid4().hex[:8]}"
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for batch_id in ids:
        assert tasks.claim_batch(batch_id, owner, f"name {batch_id[:4]}")
    item = batches.item(ids[0])
    assert item is not None and item["owner"] == owner and item["name"] == f"name {ids[0][:4]}"
    assert batches.count(owner) == 3
    first, key = batches.page(owner, 2, None)
    assert len(first) == 2 and key is not None
    rest, end = batches.page(owner, 2, key)
    assert len(rest) == 1 and end is None
    assert {i["id"] for i in first + rest} == set(ids)
    batches.delete(ids[0])
    assert batches.item(ids[0]) is None and batches.count(owner) == 2


def test_a_batchs_tasks_are_its_owners_newest_first(batch_stores: tuple[TaskStore, BatchStore]) -> None:
    tasks, batches = batch_stores
    batch_id, owner = str(uuid.uuid4()), f"o-{uuid.uuid4().hex[:8]}"
    made = [_task(tasks, TaskState.QUEUED, owner=owner, batch_id=batch_id, created_at=NOW + i) for i in range(3)]
    _task(tasks, TaskState.QUEUED, owner="someone-else", batch_id=batch_id)  # an id reused: never shown
    everything, none = batches.tasks(batch_id, owner, None, None)
    assert [t.id for t in everything] == [t.id for t in reversed(made)] and none is None
    page, key = batches.tasks(batch_id, owner, 2, None)
    assert [t.id for t in page] == [made[2].id, made[1].id] and key is not None
    rest, _ = batches.tasks(batch_id, owner, 2, key)
    assert [t.id for t in rest] == [made[0].id]
