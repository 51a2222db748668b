"""The worker side of the engine: probe and plan, move parts, finish.

Work messages (JSON on the SQS work queue):

- ``start``  {task, run, attempt, fresh}: probe the origin, plan the parts (or resume the
  plan when the source is unchanged) and send one ``lane`` message per lane of parallelism.
- ``lane``   {task, gen, run, lane, lanes, step, token, parts, attempt}: fetch the first part of
  ``parts`` (runs of part numbers), pass the rest of the lane on as a new message (step + 1,
  new token), then upload and record the part; so the lane's next fetch overlaps this upload.
  A lane message is *claimed* by a conditional write of its step and token on the task: a
  redelivery of the same message (same token) may claim again, a duplicate copy of a
  passed-on message (other token) may not. A redelivery or retry whose lane has moved on
  meanwhile (its worker died, or S3 refused the upload, after passing the lane on) stores
  just its own part if it is still missing (``catch_up``). So duplicate deliveries cost at
  most one extra part, and a worker killed mid-part loses only that part.
- ``stream`` {task, gen, run, token, attempt}: for origins without Range support, the body
  is read once, in order, into parts.

Limits (issue #5), read from the settings when each message is handled:

- per-host connections (``per_host_connections``): every connection a lane or a stream opens
  to the origin holds a slot of its host (chalicelib/hostslots.py) while it reads. A lane that
  finds no free slot sends its own message again, unchanged, 1-5 s later (the same token may
  claim again, and ``attempt`` is not touched: waiting is not a failure); it waits as long as
  the slots stay taken and the task keeps downloading. With no limit, no request is made.
- speed (the task's ``speed_limit``, else ``default_speed_limit``): each lane reads at most its
  share of the limit (chalicelib/pacing.py); the lane's progress writes return the task as it
  is now, so a changed limit applies within a progress interval. Under a limit the plan keeps
  each part small enough, and the lanes few enough, that a part can still be read within
  ``PART_SECONDS``, well inside a worker's time limit.

Every message carries the task's ``run`` (bumped each time the task is (re)dispatched) and
``gen`` (bumped each time the source is planned afresh); anything from an older run or
generation is dropped.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.expressions.update import Action

from .activity import ENGINE
from .dispatcher import Dispatcher
from .domain import deadletters, ordering, planning
from .domain.fairness import speed_verdict
from .domain.restarts import Restart, decide_restart, stream_seconds, stream_verdict
from .domain.states import TaskState
from .domain.task import Task, rank
from .domain.urls import host_of, redact
from .hostslots import HostSlots, Lease
from .metadata.objectmeta import object_metadata
from .origin import OriginClient, OriginError, SourceChanged
from .pacing import Pacer, effective_limit, lane_share
from .persistence.models import TaskModel
from .persistence.repository import TaskRepository, now_ms
from .retention import finished_marks
from .settings import EngineSettings, SettingsStore
from .storage import ObjectStore, UploadGone
from .urlguard import BlockedUrl
from .workqueue import WorkQueue

log = logging.getLogger("haul.transfer")
# A Lambda function's longest invocation: a worker handed no deadline assumes this much.
INVOCATION_SECONDS = 900.0
# Under a speed limit, one part must be readable within this many seconds (a worker has 900).
PART_SECONDS = 600
# A lane that waits for a connection to its host tries again after 1 to this many seconds.
HOST_WAIT_SECONDS = 5
WAITING_NOTE = "waiting for a free connection to "


class Abandoned(Exception):
    """The task was paused, cancelled or re-dispatched while this worker was on it."""


@dataclass
class Delivery:
    """One work message as the worker received it."""

    body: dict[str, Any]
    receipt_handle: str | None = None
    receive_count: int = 1
    # Seconds this invocation has left when the message arrives (Lambda's context says), so
    # a stream, which cannot resume in another, knows when it must have finished.
    remaining: float = INVOCATION_SECONDS


class _Buffers(threading.local):
    buf: bytearray | None = None

    def get(self, size: int) -> memoryview:
        if self.buf is None or len(self.buf) < size:
            self.buf = None  # let the old one go before the new one is made
            self.buf = bytearray(size)
        return memoryview(self.buf)[:size]


_BUFFERS = _Buffers()


class Heartbeat:
    """Keeps a message invisible to other workers while this one is still working on it."""

    def __init__(self, queue: WorkQueue, receipt: str | None, visibility: int) -> None:
        self._queue = queue
        self._receipt = receipt
        self._visibility = visibility
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self._receipt:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self._visibility / 3)):
            try:
                self._queue.extend(self._receipt or "", self._visibility)
            except (ClientError, BotoCoreError) as exc:
                log.warning("could not extend a message's visibility: %s", exc)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class LaneProgress:
    """Writes a lane's in-part progress and speed, at most once per ``interval`` seconds."""

    def __init__(
        self, repo: TaskRepository, task: Task, lane: str, interval: float,
        clock: Callable[[], float] = time.monotonic,
        on_flush: Callable[[Task], None] | None = None,
        slot: str | None = None,
    ) -> None:
        self._repo = repo
        self._task = task
        self._lane = lane
        # Where the in-part bytes go: a lane fetches its next part while the previous one is
        # still uploading, so the two parts count under two keys (see progress_slot).
        self._slot = slot or lane
        self._interval = interval
        self._clock = clock
        # Sees the task as each progress write left it (ALL_NEW, no extra read): the lane
        # adopts a changed speed limit from it, and renews its host slot.
        self._on_flush = on_flush
        self._part_bytes = 0
        self._window_bytes = 0
        self._window_start = clock()

    def new_part(self) -> None:
        self._part_bytes = 0

    def __call__(self, n: int) -> None:
        self._part_bytes += n
        self._window_bytes += n
        elapsed = self._clock() - self._window_start
        if elapsed >= self._interval:
            self.flush(int(self._window_bytes / elapsed))
            self._window_bytes = 0
            self._window_start = self._clock()

    def flush(self, speed: int) -> None:
        moved = self._repo.update(
            self._task,
            [
                TaskModel.lane_bytes[self._slot].set(self._part_bytes),  # type: ignore[index]
                TaskModel.lane_speed[self._lane].set(speed),  # type: ignore[index]
                TaskModel.heartbeat.set(now_ms()),
            ],
            # Still this run's, or held by a queue stop: a stop lets the parts in flight finish
            # (and be recorded: record_part is fenced by generation, not run); a pause does not.
            ((TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == self._task.run))
            | ((TaskModel.phase == "held") & (TaskModel.gen == self._task.gen)),
        )
        if moved is None:
            raise Abandoned()
        if self._on_flush is not None:
            self._on_flush(moved)


class Transfer:
    def __init__(
        self,
        repo: TaskRepository,
        store: ObjectStore,
        queue: WorkQueue,
        origin: OriginClient,
        settings: SettingsStore,
        dispatcher: Dispatcher,
        visibility_timeout: int = 120,
        progress_interval: float = 1.0,
        rand: Callable[[], float] = random.random,
        hosts: HostSlots | None = None,
        name_key: Callable[[Task, str], str] | None = None,
    ) -> None:
        """``name_key``: the key a starting download stores to, given the file name the probe
        found (chalicelib/metadata/service.py: its metadata, folder and template, claimed
        unique); by default ``downloads/<id>/<filename>``."""
        self.repo = repo
        self.store = store
        self.queue = queue
        self.origin = origin
        self.settings = settings
        self.dispatcher = dispatcher
        self.visibility_timeout = visibility_timeout
        self.progress_interval = progress_interval
        self.rand = rand
        self.hosts = hosts or HostSlots()
        self.name_key = name_key or _default_key

    # -- entry point ----------------------------------------------------------------------
    def handle(self, delivery: Delivery) -> None:
        body, kind = delivery.body, delivery.body.get("kind")
        handlers: dict[str, Callable[[], None]] = {
            "start": lambda: self.start(body),
            "lane": lambda: self.lane(body, first_delivery=delivery.receive_count <= 1),
            "stream": lambda: self.stream(body, time.monotonic() + stream_seconds(delivery.remaining)),
        }
        handler = handlers.get(str(kind))
        if handler is None:
            log.error("dropping a work message of unknown kind %r", kind)
            return
        with Heartbeat(self.queue, delivery.receipt_handle, self.visibility_timeout):
            try:
                handler()
            except Abandoned:
                log.info("task %s: left off (paused, cancelled or re-dispatched)", delivery.body.get("task"))

    # -- start: probe and plan ------------------------------------------------------------
    def start(self, msg: dict[str, Any]) -> None:
        task = self.repo.get(msg["task"])
        if task is None or task.state != TaskState.DOWNLOADING or task.run != msg["run"]:
            return
        # Read afresh (one GetItem per start, not the 2 s cache): a download dispatched after a
        # change is planned with it (part size, parallel parts, speed limit), whichever worker
        # process starts it.
        settings = self.settings.current().settings
        try:
            probe = self.origin.probe(task.url, task.headers)
        except OriginError as exc:
            self._retry_or_fail(task, msg, exc, settings)
            return
        except ValueError as exc:  # a blocked URL or redirect
            self.fail(task, str(exc))
            return

        same_source = (
            not msg.get("fresh")
            and task.upload_id is not None
            and task.resumable
            and probe.ranges
            and task.size == probe.size
            and task.validator == probe.validator
        )
        if same_source:
            # A new run: the lanes of the previous one are fenced off, so their step
            # counters start over.
            resumed = self.repo.update(
                task,
                [
                    TaskModel.lane_steps.set({}),
                    TaskModel.lane_tokens.set({}),
                    TaskModel.lane_bytes.set({}),
                    TaskModel.lane_speed.set({}),
                    TaskModel.phase.set("transferring"),
                    TaskModel.heartbeat.set(now_ms()),
                ],
                (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run),
            )
            if resumed is None:
                return
            done = {int(p.number) for p in self.repo.parts(task.id, task.gen)}
            missing = planning.missing_parts(task.part_count or 0, done)
            log.info("task %s: resuming, %d of %s parts missing", task.id, len(missing), task.part_count)
            self._launch(resumed, missing, settings)
            return

        filename = task.filename if task.filename_locked else probe.filename
        key = task.key if task.upload_id else self.name_key(task, filename)
        old_upload, old_key = task.upload_id, task.key
        gen = task.gen + 1
        if probe.ranges and probe.size is not None:
            plan = planning.plan_parts(probe.size, self._part_size(task, settings))
            # A restart says why it happened (the source changed, the upload expired).
            part_size, part_count, resumable, note = plan.part_size, plan.count, True, msg.get("reason")
        else:
            part_size, part_count, resumable = planning.stream_part_size(1, settings.part_size), None, False
            note = "the origin does not serve byte ranges: the file is streamed in order, and an interrupted transfer restarts from zero"
        # A file that fits in one part is stored with one PutObject by this very message: no
        # multipart upload, no lane message, no part record (see _single).
        single = resumable and part_count == 1
        upload_id = None if single else self.store.start_upload(
            key, probe.content_type, object_metadata(task.id, task.metadata))
        moved = self.repo.update(
            task,
            [
                TaskModel.filename.set(filename),
                TaskModel.key.set(key),
                TaskModel.size.set(probe.size) if probe.size is not None else TaskModel.size.remove(),
                TaskModel.content_type.set(probe.content_type) if probe.content_type else TaskModel.content_type.remove(),
                TaskModel.validator.set(probe.validator) if probe.validator else TaskModel.validator.remove(),
                TaskModel.resumable.set(resumable),
                TaskModel.part_size.set(part_size),
                TaskModel.part_count.set(part_count) if part_count else TaskModel.part_count.remove(),
                TaskModel.upload_id.set(upload_id) if upload_id else TaskModel.upload_id.remove(),
                TaskModel.gen.set(gen),
                TaskModel.parts_done.set(0),
                TaskModel.bytes_done.set(0),
                TaskModel.lane_bytes.set({}),
                TaskModel.lane_speed.set({}),
                TaskModel.lane_steps.set({}),
                TaskModel.lane_tokens.set({}),
                TaskModel.finalizing.remove(),
                TaskModel.note.set(note) if note else TaskModel.note.remove(),
                TaskModel.phase.set("transferring"),
                TaskModel.heartbeat.set(now_ms()),
            ],
            # The generation fences off a duplicate of this start message running at the
            # same time: only one of them may plan the next generation, the other drops its
            # upload instead of leaving it open (or its parts recorded against the wrong one).
            # A filename the user fixed meanwhile (PATCH) must not be overwritten by the probe's.
            (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run)
            & (TaskModel.gen == task.gen) & (TaskModel.filename_locked == task.filename_locked),
        )
        if moved is None:
            if upload_id:
                self.store.abort(key, upload_id)
            now = self.repo.get(task.id)
            if (
                now is not None and now.filename_locked and not task.filename_locked
                and now.run == task.run and now.gen == task.gen
            ):
                self.start(msg)  # plan again with the user's name (it can be fixed only once)
            return
        if old_upload:
            self.store.abort(old_key, old_upload)
            self.repo.delete_parts(task.id, below_gen=gen)
        log.info(
            "task %s: planned %s (%s bytes, %s parts of %s bytes)",
            task.id, "ranged" if resumable else "stream", probe.size, part_count, part_size,
        )
        if single:
            self._single(moved, msg, settings)
        elif resumable:
            self._launch(moved, list(range(1, (part_count or 0) + 1)), settings)
        else:
            self.queue.send(
                {"kind": "stream", "task": moved.id, "gen": moved.gen, "run": moved.run,
                 "token": uuid.uuid4().hex, "attempt": 0}
            )

    @staticmethod
    def _part_size(task: Task, settings: EngineSettings) -> int:
        """The part size to plan with: the setting, or less under a speed limit, so that one
        lane can read a part within PART_SECONDS."""
        limit = effective_limit(task.speed_limit, settings.default_speed_limit)
        if limit <= 0:
            return settings.part_size
        return min(settings.part_size, max(planning.MIN_PART_SIZE, limit * PART_SECONDS))

    def _launch(self, task: Task, missing: list[int], settings: EngineSettings) -> None:
        if not missing:
            self.finalize(task)
            return
        width = settings.parallel_parts
        limit = effective_limit(task.speed_limit, settings.default_speed_limit)
        if limit > 0 and task.part_size:
            # No more lanes than can each read a part within PART_SECONDS on their share.
            width = min(width, max(1, limit * PART_SECONDS // task.part_size))
        lanes = planning.split_lanes(missing, width)
        self.queue.send_many(
            {
                "kind": "lane", "task": task.id, "gen": task.gen, "run": task.run,
                "lane": str(index), "lanes": len(lanes), "step": 1, "token": uuid.uuid4().hex,
                "parts": planning.to_runs(parts), "attempt": 0,
            }
            for index, parts in enumerate(lanes)
        )

    # -- single: a file that fits in one part ----------------------------------------------
    def _single(self, task: Task, msg: dict[str, Any], settings: EngineSettings) -> None:
        """Fetch the whole file into a part buffer, store it with one PutObject, complete the
        task: the start message does it all. It holds a host slot while it reads, as a lane
        does; a failure goes through the start message again (a retry probes and plans anew,
        which for one part costs nothing more)."""
        got, lease = self._host_lease(task, "0", settings)
        if not got:
            self._await_host(task, msg, settings)
            return
        try:
            self._fetch_and_put(task, lease)
        except OriginError as exc:
            self._retry_or_fail(task, msg, exc, settings)
        except BlockedUrl as exc:
            self.fail(task, str(exc))
        except SourceChanged as exc:
            self.restart(task, Restart.SOURCE_CHANGED, str(exc))
        except (ClientError, BotoCoreError) as exc:
            self._retry_or_fail(task, msg, OriginError(f"S3: {exc}", retryable=True), settings)

    def _fetch_and_put(self, task: Task, lease: Lease | None) -> None:
        assert task.size is not None
        view = _BUFFERS.get(task.size)
        pacer, adopt = self._pacer(task, 1, len(view) / PART_SECONDS, lease)
        progress = LaneProgress(self.repo, task, "0", self.progress_interval, on_flush=adopt)
        try:
            if task.size:
                self.origin.fetch_range(task.url, task.headers, 0, task.size - 1, task.validator, task.size, view,
                                        progress, pacer)
        finally:
            if lease is not None:
                lease.release()
        self.store.put(task.key, view, task.content_type, object_metadata(task.id, task.metadata))
        if task.checksum:
            algorithm, _, expected = task.checksum.partition(":")
            got = hashlib.new(algorithm, view).hexdigest()
            if got != expected.lower():
                self.store.delete(task.key)
                self.fail(task, f"checksum mismatch: expected {algorithm}:{expected}, got {algorithm}:{got}")
                return
        self._completed(task, None)

    # -- lane: one part at a time ---------------------------------------------------------
    def _claim(self, msg: dict[str, Any]) -> Task | None:
        lane, step, token = msg["lane"], int(msg["step"]), msg["token"]
        steps, tokens = TaskModel.lane_steps[lane], TaskModel.lane_tokens[lane]  # type: ignore[index]
        return self.repo.update(
            Task(id=msg["task"], owner="", url="", filename="", key=""),
            [steps.set(step), tokens.set(token)],
            (TaskModel.state == TaskState.DOWNLOADING.value)
            & (TaskModel.run == msg["run"])
            & (TaskModel.gen == msg["gen"])
            & (steps.does_not_exist() | (steps < step) | (tokens == token)),
        )

    def lane(self, msg: dict[str, Any], first_delivery: bool = False) -> None:
        """Fetch the lane's next part, pass the lane on, then upload and record the part.

        The lane is passed on as soon as the part is in memory, so the next part's fetch
        overlaps this part's upload: the origin connection never waits on S3. The price is
        that the message of a part being uploaded is no longer the lane's newest, so its claim
        would be refused on a redelivery; :meth:`_catch_up` takes over there.
        """
        task = self._claim(msg)
        if task is None:
            # A copy seen for the first time is a duplicate of a message being handled (or
            # handled) elsewhere: drop it. A redelivery or retry may be of a part whose worker
            # passed the lane on and then died, or failed to upload it: that part is nobody
            # else's to fetch.
            if not first_delivery or msg.get("attempt") or msg.get("catch_up"):
                self._catch_up(msg)
            return
        parts = planning.from_runs(msg["parts"])
        number, rest = parts[0], parts[1:]
        settings = self.settings.get()
        passed_on = False

        def pass_on() -> None:
            nonlocal passed_on
            if rest and not passed_on:
                passed_on = True
                self.queue.send(
                    {**msg, "step": int(msg["step"]) + 1, "token": uuid.uuid4().hex,
                     "parts": planning.to_runs(rest), "attempt": 0}
                )

        # Only a message seen before (a redelivery or a retry) can find its part recorded
        # already; a duplicate that slips through costs one fetch, and its record is refused.
        fresh = first_delivery and not msg.get("attempt")
        counted: Task | None = None
        if fresh or not self.repo.has_part(task.id, task.gen, number):
            slot = progress_slot(msg["lane"], int(msg["step"]))
            moved, counted = self._part(task, msg, number, settings, slot, pass_on)
            if not moved:
                return
        pass_on()
        if not rest:
            self.repo.update(task, [TaskModel.lane_speed[msg["lane"]].set(0)])  # type: ignore[index]
            self.finalize(task)
        elif counted is not None and counted.part_count and counted.parts_done >= counted.part_count:
            # The lane's end was passed on before this part was in: it may have found the
            # parts incomplete, so whoever records the last part finishes the task.
            self.finalize(counted)

    def _catch_up(self, msg: dict[str, Any]) -> None:
        """Store the part of a message whose lane has moved on (see :meth:`lane`), if this run
        still wants it and nobody has stored it; then finish the task if that was the last."""
        task = self.repo.get(msg["task"])
        if (
            task is None or task.state != TaskState.DOWNLOADING
            or task.run != msg["run"] or task.gen != msg["gen"]
        ):
            return
        number = planning.from_runs(msg["parts"])[0]
        if not self.repo.has_part(task.id, task.gen, number):
            alone = {**msg, "parts": planning.to_runs([number]), "catch_up": 1}
            moved, _ = self._part(task, alone, number, self.settings.get(), f"{msg['lane']}r", None)
            if not moved:
                return
            log.info("task %s: part %d stored by a redelivery (its lane had moved on)", task.id, number)
        self.finalize(task)

    def _part(
        self, task: Task, msg: dict[str, Any], number: int, settings: EngineSettings, slot: str,
        fetched: Callable[[], None] | None,
    ) -> tuple[bool, Task | None]:
        """Move one part, handling what can go wrong: (True, the task as counted) once the
        part is stored, (False, None) when a retry, a wait, a restart or a failure took over.

        ``fetched`` runs once the part is in memory, before its upload."""
        got, lease = self._host_lease(task, msg["lane"], settings)
        if not got:
            self._await_host(task, msg, settings)
            return False, None
        late = False

        def after_fetch() -> None:
            nonlocal late
            late = True
            if fetched is not None:
                fetched()

        try:
            counted = self._move_part(
                task, msg["lane"], number, lease, int(msg.get("lanes") or 0), slot, after_fetch
            )
        except OriginError as exc:
            self._retry_or_fail(task, msg, exc, settings)
        except BlockedUrl as exc:  # a redirect to a place Haul may not fetch from
            self.fail(task, str(exc))
        except SourceChanged as exc:
            self.restart(task, Restart.SOURCE_CHANGED, str(exc))
        except UploadGone:
            self._upload_gone(task)
        except (ClientError, BotoCoreError) as exc:
            # Once the lane has been passed on, only this part is left to retry.
            retry = {**msg, "parts": planning.to_runs([number]), "catch_up": 1} if late else msg
            self._retry_or_fail(task, retry, OriginError(f"S3: {exc}", retryable=True), settings)
        else:
            return True, counted
        return False, None

    def _move_part(
        self, task: Task, lane: str, number: int, lease: Lease | None = None, lanes: int = 0,
        slot: str | None = None, fetched: Callable[[], None] | None = None,
    ) -> Task | None:
        """Fetch one part (holding ``lease``, a host slot, while it reads), upload it, record
        it; the task as counted (None for a duplicate)."""
        assert task.size is not None and task.part_size is not None and task.upload_id
        plan = planning.PartPlan(task.size, task.part_size, task.part_count or 1)
        first, last = plan.bounds(number)
        view = _BUFFERS.get(last - first + 1)
        # A part must be read within PART_SECONDS whatever the limit becomes meanwhile.
        pacer, adopt = self._pacer(task, lanes or len(task.lane_speed) or 1, len(view) / PART_SECONDS, lease)
        progress = LaneProgress(self.repo, task, lane, self.progress_interval, on_flush=adopt, slot=slot)
        began = time.monotonic()
        try:
            if last >= first:
                self.origin.fetch_range(
                    task.url, task.headers, first, last, task.validator, task.size, view, progress, pacer
                )
        finally:
            if lease is not None:
                lease.release()
        got = time.monotonic()
        if fetched is not None:
            fetched()
        passed = time.monotonic()
        uploaded = self.store.upload_part(task.key, task.upload_id, number, view)
        stored = time.monotonic()
        counted = self.repo.record_part(task, task.gen, slot or lane, uploaded, len(view))
        log.debug(
            "task %s: part %d (lane %s): fetched in %.2f s, passed on in %.2f, uploaded in %.2f, recorded in %.2f",
            task.id, number, lane, got - began, passed - got, stored - passed, time.monotonic() - stored,
        )
        return counted

    # -- limits ---------------------------------------------------------------------------
    def _pacer(
        self, task: Task, lanes: int, floor: float, lease: Lease | None
    ) -> tuple[Pacer, Callable[[Task], None]]:
        """A pacer at this lane's share of the task's speed limit, and what adopts the limit
        (and renews the host slot) from each progress write."""

        def share(now: Task) -> float:
            limit = effective_limit(now.speed_limit, self.settings.get().default_speed_limit)
            # Lanes that ran out of parts wrote a speed of 0: the others share their part.
            done = sum(1 for v in now.lane_speed.values() if v == 0)
            return lane_share(limit, max(1, lanes - done), floor)

        pacer = Pacer(share(task))

        def adopt(now: Task) -> None:
            pacer.set_rate(share(now))
            if lease is not None:
                lease.renew()
            self._watch_speed(now)

        return pacer, adopt

    def _watch_speed(self, task: Task) -> None:
        """A download slower than ``min_speed`` for ``min_speed_seconds`` goes back to the queue,
        behind its owner's other downloads, if someone else's download waits for a slot: the
        part in flight still lands (as after a queue stop), and started again it fetches only
        what it lacks. A stream (no byte ranges) is left alone: it would start over from zero."""
        settings = self.settings.get()
        if (settings.min_speed <= 0 and task.slow_since is None) or not task.resumable:
            return
        now = now_ms()
        verdict = speed_verdict(task.speed, settings.min_speed, settings.min_speed_seconds, task.slow_since, now)
        this_run = (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run)
        if verdict == "slow":
            self.repo.update(task, [TaskModel.slow_since.set(now)], this_run & TaskModel.slow_since.does_not_exist())
        elif verdict == "clear":
            self.repo.update(task, [TaskModel.slow_since.remove()], this_run)
        elif verdict == "requeue":
            if not self.repo.ids_in_state(TaskState.QUEUED, limit=1):
                # Nobody waits: carry on, and look again after another min_speed_seconds.
                self.repo.update(task, [TaskModel.slow_since.set(now)], this_run & (TaskModel.slow_since == task.slow_since))
                return
            order = ordering.bottom_order(now)
            note = (f"back in the queue: slower than {settings.min_speed} bytes/s for "
                    f"{settings.min_speed_seconds} s while other downloads waited")
            moved = self.dispatcher.send_back(
                task, ENGINE, note,
                [TaskModel.order.set(order), TaskModel.rank.set(rank(task.priority, order)), TaskModel.slow_since.remove()],
            )
            if moved is not None:
                self.dispatcher.kick()

    def _host_lease(self, task: Task, lane: str, settings: EngineSettings) -> tuple[bool, Lease | None]:
        """A host slot for one connection: (True, the lease), (True, None) when there is no
        limit (no request made), (False, None) when every slot is taken."""
        limit = settings.per_host_connections
        host = task.host or host_of(task.url)
        if limit <= 0 or not host:
            return True, None
        lease = Lease(self.hosts, host, f"{task.id}#{lane}", limit)
        if not self.hosts.acquire(host, lease.slot, limit):
            return False, None
        if task.note and task.note.startswith(WAITING_NOTE):
            self.repo.update(task, [TaskModel.note.remove()], TaskModel.note == task.note)
        return True, lease

    def _await_host(self, task: Task, msg: dict[str, Any], settings: EngineSettings) -> None:
        """Every connection to the host is taken: handle this message again in 1-5 s.

        The copy is the same message (its token may claim again; ``attempt`` is untouched), so
        waiting is no failed attempt. It is dropped once the task stops downloading; the
        heartbeat is kept fresh meanwhile, so the reconciler does not take it for stalled."""
        host = task.host or host_of(task.url)
        note = f"{WAITING_NOTE}{host} (at most {settings.per_host_connections} at once)"
        if task.note != note or now_ms() - task.heartbeat > 15_000:
            alive = self.repo.update(
                task, [TaskModel.note.set(note), TaskModel.heartbeat.set(now_ms())],
                (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run),
            )
            if alive is None:
                return
        delay = min(HOST_WAIT_SECONDS, 1 + int(self.rand() * HOST_WAIT_SECONDS))
        self.queue.send(msg, delay=delay)

    # -- stream: origins without ranges ---------------------------------------------------
    def stream(self, msg: dict[str, Any], deadline: float | None = None) -> None:
        """Read the whole body, in order, into parts; give up at ``deadline`` (monotonic
        seconds; by default one full invocation from now): a stream cannot resume, so one that
        cannot finish within its invocation fails, saying why, instead of starting over."""
        task = self._claim({**msg, "lane": "0", "step": 1})
        if task is None:
            return
        settings = self.settings.get()
        if task.parts_done:
            # A stream cannot resume: the previous attempt's parts are worthless now.
            self.restart(task, Restart.STREAM_INTERRUPTED, "the stream was interrupted; restarting from zero")
            return
        assert task.upload_id
        got, lease = self._host_lease(task, "s", settings)
        if not got:
            self._await_host(task, msg, settings)
            return
        try:
            began = time.monotonic()
            allowed = (deadline if deadline is not None else began + stream_seconds(INVOCATION_SECONDS)) - began
            self._stream_body(task, msg, settings, lease, began, allowed)
        finally:
            if lease is not None:
                lease.release()

    def _stream_body(
        self, task: Task, msg: dict[str, Any], settings: EngineSettings, lease: Lease | None,
        began: float, allowed: float,
    ) -> None:
        assert task.upload_id
        pacer, adopt = self._pacer(task, 1, 0.0, lease)
        progress = LaneProgress(self.repo, task, "0", self.progress_interval, on_flush=adopt)
        number, filled, total = 1, 0, 0
        view = _BUFFERS.get(planning.stream_part_size(1, settings.part_size))
        try:
            for chunk in self.origin.stream(task.url, task.headers, pacer):
                offset = 0
                while offset < len(chunk):
                    take = min(len(view) - filled, len(chunk) - offset)
                    view[filled : filled + take] = chunk[offset : offset + take]
                    filled += take
                    offset += take
                    if filled == len(view):
                        self._stream_part(task, number, view, filled)
                        total += filled
                        number, filled = number + 1, 0
                        progress.new_part()
                        view = _BUFFERS.get(planning.stream_part_size(number, settings.part_size))
                progress(len(chunk))
                if number > planning.MAX_PARTS:
                    self.fail(task, "the stream is larger than S3's 10,000 parts can hold")
                    return
                late = stream_verdict(time.monotonic() - began, allowed, total + filled, task.size)
                if late is not None:
                    self.fail(task, late)
                    return
            if filled or number == 1:
                self._stream_part(task, number, view, filled)
                total += filled
            else:
                number -= 1
        except OriginError as exc:
            self._retry_or_fail(task, msg, exc, settings)
            return
        except BlockedUrl as exc:
            self.fail(task, str(exc))
            return
        except UploadGone:
            self._upload_gone(task)
            return
        if task.size is not None and total != task.size:
            self._retry_or_fail(
                task, msg,
                OriginError(f"the origin sent {total} bytes but announced {task.size}", retryable=True),
                settings,
            )
            return
        finished = self.repo.update(
            task,
            [TaskModel.size.set(total), TaskModel.part_count.set(number), TaskModel.lane_speed["0"].set(0)],  # type: ignore[index]
            (TaskModel.run == task.run) & (TaskModel.gen == task.gen),
        )
        if finished is not None:
            self.finalize(finished)

    def _stream_part(self, task: Task, number: int, view: memoryview, filled: int) -> None:
        assert task.upload_id
        uploaded = self.store.upload_part(task.key, task.upload_id, number, view[:filled])
        self.repo.record_part(task, task.gen, "0", uploaded, filled)

    # -- finish ---------------------------------------------------------------------------
    def finalize(self, task: Task) -> None:
        """Complete the multipart upload exactly once, verify it, mark the task completed.

        Every lane calls this when it runs out of parts; only the call that finds every part
        recorded goes on (the last lane to record one always does: its own write precedes its
        count), and of those only the one that claims the finalisation.
        """
        if not task.part_count or self.repo.count_parts(task.id, task.gen) < task.part_count:
            return
        token = uuid.uuid4().hex
        claimed = self.repo.update(
            task,
            [TaskModel.finalizing.set(token), TaskModel.phase.set("finalizing"),
             TaskModel.heartbeat.set(now_ms())],
            (TaskModel.state == TaskState.DOWNLOADING.value)
            & (TaskModel.gen == task.gen)
            & TaskModel.finalizing.does_not_exist(),
        )
        if claimed is None:
            return
        try:
            self._complete(claimed, token)
        except (ClientError, BotoCoreError):
            # Let go of the claim, so that the redelivery of this message (the worker reports
            # the failure) can finish the job, instead of the task waiting in "finalizing"
            # for the reconciler's stall timeout.
            self.repo.update(
                claimed,
                [TaskModel.finalizing.remove(), TaskModel.phase.set("transferring")],
                TaskModel.finalizing == token,
            )
            raise

    def _complete(self, claimed: Task, token: str) -> None:
        assert claimed.upload_id and claimed.size is not None and claimed.part_count
        parts = list(self.repo.iter_parts(claimed.id, claimed.gen))
        try:
            self.store.complete(claimed.key, claimed.upload_id, parts)
        except UploadGone:
            if self.store.size(claimed.key) is None:
                # Not completed by an earlier attempt either: S3 expired the upload.
                self._upload_gone(claimed)
                return
            # Completed by an earlier attempt that died before it could say so.
        # From here on the multipart upload is completed, so it is gone: a failure forgets it,
        # and a retry plans a new one instead of "resuming" into nothing.
        gone = [TaskModel.upload_id.remove()]
        stored = self.store.size(claimed.key)
        if stored != claimed.size:
            if stored is not None:
                self.store.delete(claimed.key)  # a wrong file is worse than none
            self.fail(claimed, f"the stored object has {stored} bytes, the source {claimed.size}", gone)
            return
        if claimed.checksum:
            algorithm, _, expected = claimed.checksum.partition(":")
            digest = hashlib.new(algorithm)
            for chunk in self.store.read(claimed.key):
                digest.update(chunk)
            if digest.hexdigest() != expected.lower():
                self.store.delete(claimed.key)
                self.fail(
                    claimed,
                    f"checksum mismatch: expected {algorithm}:{expected}, got {algorithm}:{digest.hexdigest()}",
                    gone,
                )
                return
        self._completed(claimed, token)

    def _completed(self, task: Task, token: str | None) -> None:
        """Mark the stored task completed: the finalisation claimed with ``token``, or (None) a
        single PutObject of this run and generation."""
        fence = (TaskModel.finalizing == token) if token is not None else (
            (TaskModel.run == task.run) & (TaskModel.gen == task.gen)
        )
        done = self.repo.transition(
            task,
            [TaskState.DOWNLOADING],
            TaskState.COMPLETED,
            [
                TaskModel.finished_at.set(now_ms()),
                TaskModel.phase.remove(),
                TaskModel.finalizing.remove(),
                TaskModel.lane_bytes.set({}),
                TaskModel.lane_speed.set({}),
                TaskModel.error.remove(),
                TaskModel.parts_done.set(task.part_count or 1),
                TaskModel.bytes_done.set(task.size or 0),
                TaskModel.actor.set(ENGINE),
                *finished_marks(self.settings.get(), now_ms()),
            ],
            fence,
        )
        if done is not None:
            log.info("task %s: downloading -> completed (%s bytes)", done.id, done.size)
            self.dispatcher.kick()

    def fail(self, task: Task, reason: str, extra: Sequence[Action] = ()) -> None:
        failed = self.repo.transition(
            task,
            [TaskState.DOWNLOADING],
            TaskState.FAILED,
            [
                TaskModel.error.set(redact(reason)[:1000]),
                TaskModel.finished_at.set(now_ms()),
                TaskModel.phase.remove(),
                TaskModel.finalizing.remove(),
                TaskModel.lane_speed.set({}),
                TaskModel.actor.set(ENGINE),
                *finished_marks(self.settings.get(), now_ms()),
                *extra,
            ],
            TaskModel.run == task.run,
        )
        if failed is not None:
            log.info("task %s: downloading -> failed: %s", task.id, reason)
            self.dispatcher.kick()

    def restart(self, task: Task, kind: Restart, reason: str, fresh: bool = True) -> None:
        """Plan the task afresh (a new generation), e.g. because the source changed; or fail it
        when it has started over as often as ``retry.max_restarts`` allows (every kind counts)."""
        decision = decide_restart(kind, task.restarts, self.settings.get().max_restarts, reason)
        if not decision.allowed:
            self.fail(task, decision.message)
            return
        moved = self.repo.update(
            task,
            [TaskModel.run.add(1), TaskModel.restarts.add(1),
             TaskModel.note.set(reason), TaskModel.phase.set("starting"),
             TaskModel.heartbeat.set(now_ms()), TaskModel.actor.set(ENGINE)],
            (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run)
            & (TaskModel.gen == task.gen),
        )
        if moved is not None:
            log.info("task %s: restarting: %s", task.id, reason)
            self.queue.send({"kind": "start", "task": task.id, "run": moved.run, "fresh": fresh, "reason": reason})

    def dead_letter(self, body: Any, receive_count: str = "?") -> deadletters.Verdict:
        """A work message that kept failing (the dead-letter queue's handler): fail its task
        with a reason, but only if it belongs to the task's current run and generation; a
        message of an older run, or of a task that moved on, is dropped, and one that names
        no task (a dispatcher kick) is logged and dropped, never retried."""
        kind = body.get("kind", "work") if isinstance(body, dict) else "work"
        task_id = deadletters.task_of(body)
        if task_id is None:
            log.warning("dead letter without a task (a %s message): dropped: %.200s", kind, body)
            return deadletters.Verdict.NO_TASK
        task = self.repo.get(task_id)
        found = deadletters.verdict(
            body, task.state if task else None, task.run if task else 0, task.gen if task else 0
        )
        if found != deadletters.Verdict.FAIL or task is None:
            log.info("dead letter of task %s (a %s message of run %s) is out of date: dropped",
                     task_id, kind, body.get("run"))
            return deadletters.Verdict.STALE
        self.fail(task, f"a {kind} message failed {receive_count} times in a row; see the worker logs")
        return found

    def _upload_gone(self, task: Task) -> None:
        """The multipart upload vanished under a running task: it was cancelled or re-planned
        (then this worker is merely late), or S3 expired it (the bucket aborts uploads left
        unfinished for days, e.g. a long pause) — then only a fresh start can go on."""
        now = self.repo.get(task.id)
        if (
            now is not None and now.state == TaskState.DOWNLOADING and now.run == task.run
            and now.gen == task.gen and now.upload_id == task.upload_id
        ):
            self.restart(now, Restart.UPLOAD_EXPIRED, "the unfinished upload had expired in S3; starting over")

    def _retry_or_fail(
        self, task: Task, msg: dict[str, Any], exc: OriginError, settings: EngineSettings
    ) -> None:
        attempt = int(msg.get("attempt", 0)) + 1
        policy = settings.retry
        if not exc.retryable or policy.exhausted(attempt):
            tries = f" after {attempt} attempts" if exc.retryable else ""
            self.fail(task, f"{exc}{tries}")
            return
        delay = policy.delay(attempt, exc.retry_after, self.rand)
        alive = self.repo.update(
            task,
            [TaskModel.heartbeat.set(now_ms() + int(delay * 1000)),
             TaskModel.note.set(f"retrying in {delay:.0f} s: {exc}")],
            (TaskModel.state == TaskState.DOWNLOADING.value) & (TaskModel.run == task.run),
        )
        if alive is None:
            return
        log.info("task %s: attempt %d failed (%s); retrying in %.1f s", task.id, attempt, exc, delay)
        # SQS delays by whole seconds: round up, so a retry never comes before Retry-After.
        self.queue.send({**msg, "attempt": attempt}, delay=math.ceil(delay))


def progress_slot(lane: str, step: int) -> str:
    """The key of a part's in-flight bytes: a lane's consecutive parts overlap (one uploads
    while the next is fetched), so they alternate between two keys."""
    return lane if step % 2 else f"{lane}'"


def _key_for(task: Task, filename: str) -> str:
    return f"downloads/{task.id}/{filename}"


def _default_key(task: Task, filename: str) -> str:
    return task.key if task.filename_locked else _key_for(task, filename)
