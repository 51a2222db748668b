"""The effects of each job action, through the engine's own services (ports passed in by the
composition root, chalicelib/container.py). Each returns a short result line; an action that
had nothing to do raises :class:`Skipped` (the run is recorded as ``skipped``); any other
exception fails the run with its message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from ..adapters.origin import OriginError
from ..api.errors import ApiError
from ..auth.identity import Identity
from ..domain.states import Action, TaskState
from ..downloads import bulk
from ..downloads.schemas import AddDownload
from ..persistence.repository import now_ms
from ..settings.store import SettingsError
from .actions import needs_admin
from .models import Job

log = logging.getLogger("haul.jobs")
FINISHED = {"completed": TaskState.COMPLETED, "failed": TaskState.FAILED, "cancelled": TaskState.CANCELLED}


class Skipped(Exception):
    """The action had nothing to do this time (the message says why)."""


class JobFailed(Exception):
    """The action could not do what it should (the message says why)."""


class FeedRefresher(Protocol):
    """The feeds package's refresh (issue #16): refresh ``who``'s feeds (``None``: all), a summary."""

    def __call__(self, who: Identity, feed_ids: list[str] | None) -> str: ...


class Notifier(Protocol):
    """The notify package's send: a message to ``who``'s targets (``None``: all); deliveries queued."""

    def __call__(self, who: Identity, title: str, message: str, target_ids: list[str] | None) -> int: ...


def feeds_unavailable(who: Identity, feed_ids: list[str] | None) -> str:
    raise JobFailed("feeds are not available in this version of Haul")


@dataclass
class Outcome:
    result: str
    memory: dict[str, Any] | None = None  # what the job keeps for its next run, if it changed


class Runner:
    def __init__(self, *, downloads: Any, queue_control: Any, settings: Any, origin: Any,
                 feeds: FeedRefresher = feeds_unavailable, notify: Notifier | None = None,
                 clock: Callable[[], int] | None = None) -> None:

        self.downloads = downloads
        self.queue_control = queue_control
        self.settings = settings
        self.origin = origin
        self.feeds = feeds
        self.notify = notify
        self.clock = clock or now_ms

    def run(self, job: Job, who: Identity) -> Outcome:
        if needs_admin(job.action, job.params) and not who.is_admin:
            raise JobFailed(f"{job.action.value} needs an admin, and {who.username} no longer is one")
        handler = getattr(self, f"_{job.action.value}")
        out: Outcome = handler(job, who, job.params)
        return out

    # -- the queue and the global speed limit (admins) -----------------------------------------
    def _queue_start(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        status = self.queue_control.start(who)
        return Outcome(f"queue {status.state(self.clock())}")

    def _queue_stop(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        status = self.queue_control.stop(who)
        return Outcome(f"queue {status.state(self.clock())}")

    def _queue_pause(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        minutes = int(p["minutes"])
        self.queue_control.pause(who, self.clock() + minutes * 60_000)
        return Outcome(f"queue paused for {minutes} min")

    def _speed_limit(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        limit = int(p["bytes_per_second"])

        try:
            version = self.settings.change({"transfer": {"speed_limit": limit}}, actor=f"job:{job.name}")
        except SettingsError as exc:
            raise JobFailed("; ".join(f"{k}: {v}" for k, v in exc.fields.items())) from None
        shown = "no limit" if limit == 0 else f"{limit} B/s"
        return Outcome(f"global speed limit: {shown} (settings version {version.version})")

    # -- the owner's downloads ---------------------------------------------------------------------
    def _retry_failed(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:

        if not p.get("all_users"):
            done = bulk.retry_failed(self.downloads, who)
            count = int(done["count"])
        else:
            count = 0
            repo = self.downloads.repo
            for task_id in repo.ids_in_state(TaskState.FAILED):
                task = repo.get(task_id)
                if task is None or task.state != TaskState.FAILED:
                    continue
                try:
                    self.downloads.apply_action(who, task, Action.RETRY)
                    count += 1
                except ApiError:
                    continue  # changed meanwhile
            if count:
                self.downloads.dispatcher.kick()
        if not count:
            raise Skipped("no failed downloads")
        return Outcome(f"retried {count} failed download(s)")

    def _clear_history(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        cutoff = self.clock() - int(timedelta(days=int(p["older_than_days"])).total_seconds() * 1000)
        repo = self.downloads.repo
        removed = 0
        for name in p["states"]:
            state = FINISHED[name]
            if p.get("all_users"):
                candidates = (repo.get(i) for i in repo.ids_in_state(state))
            else:
                candidates = self._owned(who.user_id, state)
            for task in candidates:
                if task is None or task.state != state or (task.finished_at or task.updated_at) > cutoff:
                    continue
                try:
                    self.downloads.remove(who, task, bool(p.get("delete_files")))
                    removed += 1
                except ApiError:
                    continue
        if not removed:
            raise Skipped(f"no finished downloads older than {p['older_than_days']} day(s)")
        return Outcome(f"cleared {removed} finished download(s) older than {p['older_than_days']} day(s)")

    def _owned(self, owner: str, state: TaskState) -> Any:
        cursor = None
        while True:
            tasks, cursor = self.downloads.repo.list_for_owner(owner, state, 100, cursor)
            yield from tasks
            if not cursor:
                return

    def _add_urls(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        """Add each URL as a download, unless (``only_if_changed``) the source's validator is
        the one the last run saw: a recurring fetch of what changed."""

        seen: dict[str, Any] = dict(job.memory.get("validators") or {})
        added, unchanged, errors = 0, 0, []
        for url in p["urls"]:
            validator = None
            if p.get("only_if_changed", True):
                try:
                    validator = self.origin.probe(url, {}).validator
                except (OriginError, ApiError, OSError) as exc:
                    errors.append(f"{url}: {exc}")
                    continue
                if validator and seen.get(url) == validator:
                    unchanged += 1
                    continue
            req = AddDownload(url=url, category=p.get("category"), tags=list(p.get("tags") or []),
                              allow_duplicate=True)
            try:
                self.downloads.add(who, req)
            except ApiError as exc:
                errors.append(f"{url}: {exc.message}")
                continue
            added += 1
            if validator:
                seen[url] = validator
        memory = {**job.memory, "validators": seen}
        summary = f"added {added}, unchanged {unchanged}" + (f", {len(errors)} failed" if errors else "")
        if errors and not added:
            raise JobFailed(f"{summary}: {'; '.join(errors)[:800]}")
        if not added and not errors:
            job.memory = memory
            raise Skipped(f"unchanged since the last run ({unchanged} URL(s))")
        return Outcome(summary, memory)

    # -- feeds and notifications -------------------------------------------------------------------
    def _refresh_feeds(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        return Outcome(self.feeds(who, p.get("feed_ids")))

    def _send_notification(self, job: Job, who: Identity, p: dict[str, Any]) -> Outcome:
        if self.notify is None:
            raise JobFailed("notifications are not available")
        count = self.notify(who, p["title"], p["message"], p.get("target_ids"))
        if not count:
            raise Skipped("no notification targets to send to")
        return Outcome(f"queued {count} notification(s)")
