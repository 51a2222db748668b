"""What the feeds API and the scheduler can do: subscribe, read, judge, enqueue, refresh.

A refresh (:meth:`FeedService.refresh_many`, one feed: :meth:`FeedService.refresh`):

1. fetch the feed politely (conditional GET with the validators of the last body taken in,
   a timeout, a size cap; the per-host connection limit; chalicelib/feeds/fetch.py);
2. parse it behind the XML guard (chalicelib/feeds/parsing.py);
3. record each item never seen by this feed, conditionally, as ``new`` and pending;
4. only then keep the new validators and schedule the next refresh (so a crash before this
   point fetches the same body again, and nothing is lost);
5. settle the feed's pending items: judge each ``new`` one by the rules (first judgement
   wins), and enqueue each ``matched`` one through the download service (its SSRF guard,
   duplicate detection and ownership) under an item claim, so it is enqueued once.

A refresh that runs out of time (API Gateway's 29 s, a worker's visibility) stops between
items and leaves the rest to a ``feed`` message on the work queue; a crashed one leaves its
items pending, and the next refresh of the feed settles them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import ValidationError

from ..activity.log import ActivityLog
from ..adapters.sqs import WorkQueue
from ..api.errors import ApiError, Conflict, Forbidden, NotFound, ValidationFailed, field_error
from ..api.schemas import parse
from ..auth.identity import Identity, Role
from ..domain import filenames
from ..domain.clock import Deadline
from ..domain.task import iso
from ..domain.urls import host_of
from ..downloads.schemas import AddDownload
from ..downloads.service import DownloadService
from ..engine.hostslots import HostSlots
from ..persistence.repository import now_ms
from ..settings.store import SettingsStore
from . import parsing
from .events import FeedEvents
from .fetch import FeedFetcher, FetchError
from .models import ENQUEUE_LEASE_SECONDS, REFRESH_LEASE_SECONDS, Feed, FeedItem, FeedOptions, ItemState, next_refresh
from .persistence import BadCursor, FeedRepository
from .rules import Facts, RuleError, RuleSet, compile_rules, judge, validate
from .schemas import Analyse, BulkFeeds, FeedListQuery, ItemsQuery, PatchFeed, SearchQuery, Subscribe

log = logging.getLogger("haul.feeds")
MESSAGE_KIND = "feed"
# An API request answers within API Gateway's 29 s: an inline refresh stops after this and
# leaves the rest to the workers.
API_BUDGET_SECONDS = 20.0
# New items are recorded this many side by side, in chunks of this many between deadline checks.
RECORD_THREADS = 8
RECORD_CHUNK = 64
JOB_BUDGET_SECONDS = 120.0
_ID = __import__("re").compile(r"^[0-9A-Za-z-]{1,64}$")
_OPTION_FIELDS = ("category", "tags", "priority", "batch_name", "batch_per_refresh", "filename_prefix", "headers")


@dataclass
class Outcome:
    """What one refresh of one feed did (the API's FeedRefreshed)."""

    feed_id: str
    status: str = "ok"
    found: int = 0
    new: int = 0
    matched: int = 0
    enqueued: int = 0
    download_ids: list[str] = field(default_factory=list)
    error: str | None = None
    matched_items: list[dict[str, Any]] = field(default_factory=list)

    def view(self) -> dict[str, Any]:
        return {"feed_id": self.feed_id, "status": self.status, "found": self.found, "new": self.new,
                "matched": self.matched, "enqueued": self.enqueued, "download_ids": self.download_ids,
                "error": self.error}


def report(outcomes: list[Outcome]) -> dict[str, Any]:
    return {
        "feeds": [o.view() for o in outcomes],
        "found": sum(o.found for o in outcomes), "new": sum(o.new for o in outcomes),
        "matched": sum(o.matched for o in outcomes), "enqueued": sum(o.enqueued for o in outcomes),
        "failed": sum(1 for o in outcomes if o.status == "failed"),
        "queued": sum(1 for o in outcomes if o.status == "queued"),
    }



class FeedService:
    def __init__(
        self, repo: FeedRepository, fetcher: FeedFetcher, downloads: DownloadService, settings: SettingsStore,
        activity: ActivityLog, queue: WorkQueue, events: FeedEvents, hosts: HostSlots,
        minute_seconds: float = 60.0, clock: Callable[[], int] = now_ms,
    ) -> None:
        """``minute_seconds``: how long a minute of ``interval_minutes`` lasts (60; tests
        shorten it, as HAUL_SCHEDULE_SECONDS shortens the scheduler's tick)."""
        self.repo = repo
        self.fetcher = fetcher
        self.downloads = downloads
        self.settings = settings
        self.activity = activity
        self.queue = queue
        self.events = events
        self.hosts = hosts
        self.minute_seconds = minute_seconds
        self.clock = clock

    # -- access -----------------------------------------------------------------------------
    @staticmethod
    def _writer(who: Identity) -> None:
        if not who.at_least(Role.USER):
            raise Forbidden(f"a {who.role.value} may read feeds but not change them")

    def get(self, who: Identity, feed_id: str) -> Feed:
        feed = self.repo.get_feed(feed_id) if _ID.match(feed_id) else None
        if feed is None or not who.sees(feed.owner):
            raise NotFound(f"no feed with id {feed_id}")
        return feed

    @staticmethod
    def _rules(raw: list[Any]) -> list[dict[str, Any]]:
        rules = [r.model_dump() for r in raw]
        problems = validate(rules)
        if problems:
            summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:3])
            raise ValidationFailed(f"invalid rules: {summary}", problems)
        return rules

    def _check_url(self, url: str, where: str = "url") -> None:
        try:
            self.fetcher.check(url)
        except FetchError as exc:
            raise field_error(where, str(exc)) from None

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(self, who: Identity, body: Any) -> Feed:
        self._writer(who)
        req: Subscribe = parse(Subscribe, body)
        self._check_url(req.url)
        rules = self._rules(req.rules)
        now = self.clock()
        options = FeedOptions.of({k: getattr(req, k) for k in _OPTION_FIELDS})
        feed = Feed(
            id=str(uuid.uuid4()), owner=who.user_id, owner_name=who.username, url=req.url,
            name=req.name or host_of(req.url) or req.url, enabled=req.enabled,
            interval_minutes=req.interval_minutes, rules=rules, options=options, created_at=now,
            updated_at=now, next_refresh_at=now,  # due at once: the next tick reads it
        )
        self.repo.create_feed(feed)
        self.activity.record(owner=who.user_id, actor=who.username, kind="feed.subscribe",
                             message=f"subscribed to {feed.name} ({feed.url})", data={"feed_id": feed.id})
        return feed

    def page(self, who: Identity, q: FeedListQuery) -> tuple[list[Feed], int, str | None]:
        owner = None if who.is_admin else who.user_id
        try:
            feeds, cursor = self.repo.feeds_page(owner, q.per_page, q.cursor)
        except BadCursor as exc:
            raise field_error("cursor", str(exc)) from None
        total, _ = self.repo.count_feeds(owner)
        return feeds, total, cursor

    def patch(self, who: Identity, feed_id: str, body: Any) -> Feed:
        self._writer(who)
        feed = self.get(who, feed_id)
        req: PatchFeed = parse(PatchFeed, body)
        changes: dict[str, Any] = {}
        if req.url is not None and req.url != feed.url:
            self._check_url(req.url)
            # Another feed now: its validators are not this URL's.
            changes.update(url=req.url, etag=None, last_modified=None)
        for name in ("name", "enabled", "interval_minutes"):
            value = getattr(req, name)
            if value is not None:
                changes[name] = value
        if req.rules is not None:
            changes["rules"] = self._rules(req.rules)
        set_options = {k: getattr(req, k) for k in _OPTION_FIELDS if k in req.model_fields_set}
        if set_options:
            stored = feed.options.stored()
            stored.update({k: v for k, v in set_options.items()})
            changes["options"] = FeedOptions.of(stored).stored()
        if req.enabled and not feed.enabled:
            changes["next_refresh_at"] = self.clock()  # re-enabled: due now
        if not changes:
            return feed
        updated = self.repo.change_feed(feed.id, changes, self.clock())
        if updated is None:
            raise NotFound(f"no feed with id {feed_id}")
        shown = {k: ("(changed)" if k in ("options", "rules") else v) for k, v in changes.items()
                 if k not in ("etag", "last_modified", "next_refresh_at")}
        self.activity.record(owner=feed.owner, actor=who.username, kind="feed.patch",
                             message=f"feed {feed.name}: changed {', '.join(f'{k}={v}' for k, v in shown.items())}",
                             data={"feed_id": feed.id})
        return updated

    def delete(self, who: Identity, feed_id: str) -> None:
        self._writer(who)
        feed = self.get(who, feed_id)
        self.repo.delete_feed(feed.id)
        self.activity.record(owner=feed.owner, actor=who.username, kind="feed.delete",
                             message=f"unsubscribed from {feed.name} ({feed.url})", data={"feed_id": feed.id})

    def bulk(self, who: Identity, req: BulkFeeds) -> dict[str, Any]:
        self._writer(who)
        results: list[dict[str, Any]] = []
        refresh: list[str] = []
        for feed_id in dict.fromkeys(req.ids):
            try:
                if req.action == "delete":
                    self.delete(who, feed_id)
                elif req.action in ("enable", "disable"):
                    self.patch(who, feed_id, {"enabled": req.action == "enable"})
                else:
                    self.get(who, feed_id)
                    refresh.append(feed_id)
                    continue
                results.append({"id": feed_id, "ok": True, "error": None})
            except ApiError as exc:
                results.append({"id": feed_id, "ok": False, "error": exc.message})
        if refresh:
            for outcome in self.refresh_many(who, refresh)["feeds"]:
                results.append({"id": outcome["feed_id"], "ok": outcome["status"] != "failed",
                                "error": outcome["error"]})
        ok = sum(1 for r in results if r["ok"])
        return {"action": req.action, "results": results, "succeeded": ok, "failed": len(results) - ok}

    # -- reading a feed without subscribing -------------------------------------------------
    def analyse(self, who: Identity, req: Analyse) -> dict[str, Any]:
        """Fetch and read a feed; each item with its metadata and the rules' verdict. Nothing
        is stored or enqueued."""
        self._check_url(req.url)
        rules = compile_rules(self._rules(req.rules))
        try:
            fetched = self.fetcher.fetch(req.url, req.headers or {})
            parsed = parsing.parse(fetched.body, fetched.url, fetched.content_type)
        except (FetchError, parsing.FeedRefused) as exc:
            raise ValidationFailed(f"url: {exc}", [{"field": "url", "message": str(exc)}]) from None
        items = []
        for item in parsed.items[:req.limit]:
            meta = parsing.metadata(item.title)
            verdict = judge(rules, self._facts(item.title, item.link, item.size, meta))
            items.append({**item.view(), "metadata": meta, "verdict": verdict.view()})
        return {"url": fetched.url, "title": parsed.title, "items": items, "total_items": len(parsed.items),
                "matched": sum(1 for i in items if i["verdict"]["matched"]), "malformed": parsed.malformed}

    @staticmethod
    def _facts(title: str, link: str | None, size: int | None, meta: dict[str, Any]) -> Facts:
        season, episode = parsing.season_episode(meta)
        return Facts(title=title, link=link or "", size=size, season=season, episode=episode)

    # -- refreshing -------------------------------------------------------------------------
    def refresh(self, who: Identity, feed_id: str) -> dict[str, Any]:
        """Refresh one feed now (whether or not automation runs); what it found and enqueued."""
        self._writer(who)
        feed = self.get(who, feed_id)
        outcome = self._refresh(feed, Deadline(API_BUDGET_SECONDS), who.username)
        return outcome.view()

    def refresh_many(self, who: Identity, ids: list[str] | None = None,
                     budget_seconds: float = API_BUDGET_SECONDS) -> dict[str, Any]:
        """Refresh ``ids`` (None: all of ``who``'s feeds; an admin's: everyone's), one after
        the other within ``budget_seconds``; feeds not reached by then are refreshed by the
        workers (status ``queued``). A report per feed and the sums. For the API, bulk actions
        and scheduled jobs."""
        self._writer(who)
        outcomes: list[Outcome] = []
        feeds: list[Feed] = []
        if ids is None:
            feeds = [f for f in (self.repo.get_feed(i) for i in self.repo.all_feed_ids(
                None if who.is_admin else who.user_id)) if f is not None]
        for feed_id in dict.fromkeys(ids or []):
            try:
                feeds.append(self.get(who, feed_id))
            except NotFound as exc:
                outcomes.append(Outcome(feed_id, status="failed", error=exc.message))
        deadline = Deadline(budget_seconds)
        for feed in feeds:
            if deadline.passed:
                self.queue.send({"kind": MESSAGE_KIND, "feed": feed.id, "mode": "refresh", "actor": who.username})
                outcomes.append(Outcome(feed.id, status="queued"))
                continue
            outcomes.append(self._refresh(feed, deadline, who.username))
        return report(outcomes)

    def refresh_summary(self, who: Identity, feed_ids: list[str] | None) -> str:
        """``refresh_many`` for a scheduled job (chalicelib/jobs/): its answer in one line.
        A job runs in a worker, so it may take longer than an API request."""
        done = self.refresh_many(who, feed_ids, budget_seconds=JOB_BUDGET_SECONDS)
        if done["feeds"] and done["failed"] == len(done["feeds"]):
            errors = "; ".join(f"{f['feed_id']}: {f['error']}" for f in done["feeds"][:5])
            raise RuntimeError(f"every feed failed to refresh: {errors}")
        return (f"{len(done['feeds'])} feed(s): {done['found']} item(s) found, {done['new']} new, "
                f"{done['matched']} matched, {done['enqueued']} enqueued, {done['failed']} failed"
                + (f", {done['queued']} left to the workers" if done["queued"] else ""))

    def refresh_due(self, now: int | None = None, limit: int = 500) -> int:
        """The scheduler's tick: claim each enabled feed that is due (a conditional write per
        feed, from the by-due index, no scan) and send one work message per feed. Nothing
        while automation is stopped. How many feeds were sent."""
        now = self.clock() if now is None else now
        if not self.automation_running():
            return 0
        sent = 0
        for feed_id, seen in self.repo.due_feeds(now, limit):
            if self.repo.claim_due(feed_id, seen, now + REFRESH_LEASE_SECONDS * 1000):
                self.queue.send({"kind": MESSAGE_KIND, "feed": feed_id, "mode": "refresh", "actor": "scheduler"})
                sent += 1
        self.repo.note_tick(now, sent)
        return sent

    def on_message(self, body: dict[str, Any], budget_seconds: float) -> Outcome | None:
        """A ``feed`` work message: refresh the feed (``mode`` refresh) or settle what an
        earlier refresh left pending (``resume``)."""
        feed = self.repo.get_feed(str(body.get("feed", "")))
        if feed is None:
            return None
        actor = str(body.get("actor") or "scheduler")
        deadline = Deadline(budget_seconds)
        if body.get("mode") == "resume":
            outcome = Outcome(feed.id)
            self._settle(feed, deadline, outcome, actor)
            self._announce(feed, outcome, actor)
            return outcome
        return self._refresh(feed, deadline, actor)

    def _refresh(self, feed: Feed, deadline: Deadline, actor: str) -> Outcome:
        outcome = Outcome(feed.id)
        now = self.clock()
        interval = feed.interval_minutes * self.minute_seconds
        limit = self.settings.get().per_host_connections
        host, slot = host_of(feed.url), f"feed-{uuid.uuid4().hex[:12]}"
        if limit > 0 and not self.hosts.acquire(host, slot, limit):
            # Every connection to the host is taken: the workers try again in a while.
            self.queue.send({"kind": MESSAGE_KIND, "feed": feed.id, "mode": "refresh", "actor": actor}, delay=30)
            outcome.status = "queued"
            return outcome
        try:
            fetched = self.fetcher.fetch(feed.url, feed.options.headers, feed.etag, feed.last_modified)
            parsed = None if fetched.not_modified else parsing.parse(fetched.body, fetched.url, fetched.content_type)
        except (FetchError, parsing.FeedRefused) as exc:
            return self._failed(feed, outcome, str(exc), now, interval, actor)
        finally:
            if limit > 0:
                self.hosts.release(host, slot)
        if parsed is None:
            outcome.status = "not_modified"
        else:
            outcome.found = len(parsed.items)
            if not self._record(feed, parsed.items, now, deadline, outcome):
                # Out of time before every item was recorded: the validators stay as they
                # were, so the workers fetch the same body again and record the rest.
                self.queue.send({"kind": MESSAGE_KIND, "feed": feed.id, "mode": "refresh", "actor": actor})
                outcome.status = "queued"
                return outcome
        stored = self.repo.record_success(
            feed, parsed.title if parsed else None, fetched.etag, fetched.last_modified, now,
            next_refresh(now, interval, 0), outcome.new,
        )
        self._settle(stored or feed, deadline, outcome, actor)
        self._announce(feed, outcome, actor)
        return outcome

    def _failed(self, feed: Feed, outcome: Outcome, error: str, now: int, interval: float, actor: str) -> Outcome:
        failures = feed.failures + 1
        self.repo.record_failure(feed, error, now, next_refresh(now, interval, failures))
        outcome.status, outcome.error = "failed", error
        log.info("feed %s: refresh failed (%d in a row): %s", feed.id, failures, error)
        self.events.failed(feed, error, failures, actor)
        return outcome

    def _record(self, feed: Feed, items: list[parsing.ParsedItem], now: int, deadline: Deadline,
                outcome: Outcome) -> bool:
        """Record the items this feed never saw, a few at a time side by side; each already
        judged unless its verdict depends on what gets enqueued first (``new_episodes_only``:
        then it is recorded ``new`` and judged while settling). False if time ran out."""
        rules = self._compiled(feed)
        known = self.repo.seen_keys(feed.id, (i.key for i in items))
        fresh = [i for i in reversed(items) if i.key not in known]  # feeds list the newest first
        with ThreadPoolExecutor(RECORD_THREADS) as pool:
            for start in range(0, len(fresh), RECORD_CHUNK):
                if deadline.passed:
                    self.repo.count_seen(feed.id, outcome.new)
                    return False
                chunk = [self._first_sight(feed, rules, item, now) for item in fresh[start:start + RECORD_CHUNK]]
                outcome.new += sum(pool.map(self.repo.record_new_item, chunk))
        return True

    def _compiled(self, feed: Feed) -> RuleSet | None:
        try:
            return compile_rules(feed.rules)
        except RuleError as exc:  # validated on write; a stored set that no longer compiles
            log.error("feed %s: its rules do not compile: %s", feed.id, exc)
            return None

    def _first_sight(self, feed: Feed, rules: RuleSet | None, item: parsing.ParsedItem, now: int) -> FeedItem:
        stored = FeedItem(
            feed_id=feed.id, key=item.key, owner=feed.owner, guid=item.guid, title=item.title, link=item.link,
            url=item.url, size=item.size, published_at=item.published_at, state=ItemState.NEW, seen_at=now,
            updated_at=now,
        )
        if rules is None or rules.needs_history:
            return stored
        meta = parsing.metadata(item.title) if rules.needs_episodes else {}
        verdict = judge(rules, self._facts(item.title, item.link, item.size, meta))
        if verdict.matched and not meta:
            meta = parsing.metadata(item.title)  # shown with the item, and it moves the last episode
        return replace(stored, state=ItemState.MATCHED if verdict.matched else ItemState.EXCLUDED,
                       rule=verdict.rule, reason=verdict.reason, meta=meta)

    def _settle(self, feed: Feed, deadline: Deadline, outcome: Outcome, actor: str) -> None:
        """Judge the feed's new items and enqueue its matched ones, oldest first."""
        rules = self._compiled(feed)
        if rules is None:
            return
        pending = self.repo.get_items(feed.id, self.repo.pending_keys(feed.id))
        pending.sort(key=lambda i: (i.published_at or 0, i.seen_at, i.key))
        last = feed.last_enqueued_episode
        batch: dict[str, str | None] = {}
        for item in pending:
            if deadline.passed:
                self.queue.send({"kind": MESSAGE_KIND, "feed": feed.id, "mode": "resume", "actor": actor})
                if outcome.status == "ok":
                    outcome.status = "queued"
                return
            if item.state == ItemState.NEW:
                item = self._judge(feed, rules, item, last)
            if item.state != ItemState.MATCHED:
                continue
            outcome.matched += 1
            download_id = self._enqueue(feed, item, batch, actor)
            if download_id:
                outcome.enqueued += 1
                outcome.download_ids.append(download_id)
                outcome.matched_items.append({"item_id": item.key, "title": item.title[:200],
                                              "download_id": download_id, "rule": item.rule})
                season, episode = parsing.season_episode(item.meta)
                if episode is not None and (last is None or (season or 1, episode) > last):
                    last = (season or 1, episode)

    def _judge(self, feed: Feed, rules: RuleSet, item: FeedItem, last: tuple[int, int] | None) -> FeedItem:
        meta = parsing.metadata(item.title) if rules.needs_episodes else {}
        verdict = judge(rules, self._facts(item.title, item.link, item.size, meta), last)
        if verdict.matched and not meta:
            meta = parsing.metadata(item.title)  # shown with the item, and it moves the last episode
        judged = self.repo.judge_item(feed.id, item.key, verdict.matched, verdict.rule, verdict.reason, meta,
                                      self.clock())
        if judged is None:  # another refresh judged it first
            return self.repo.get_item(feed.id, item.key) or item
        return judged

    def _enqueue(self, feed: Feed, item: FeedItem, batch: dict[str, str | None], actor: str) -> str | None:
        """Add the item's download under the item's claim; its id, or None (someone else holds
        the item, or the download could not be added: then the item is ``failed``)."""
        now = self.clock()
        token = uuid.uuid4().hex
        if self.repo.claim_enqueue(feed.id, item.key, token, now, now + ENQUEUE_LEASE_SECONDS * 1000) is None:
            return None
        who = Identity(user_id=feed.owner, username=feed.owner_name, role=Role.USER)
        try:
            if not item.url:
                raise ValidationFailed("the item has no http(s) enclosure or link to download")
            task = self.downloads.add(who, self._download_request(feed, item, batch))
        except ApiError as exc:
            reason = f"could not add the download: {exc.message}"
            self.repo.mark_failed(feed.id, item.key, token, reason, self.clock())
            self.events.item_failed(feed, item, reason, actor)
            return None
        reason = (f"already a download ({task.state.value}): {task.id}" if getattr(task, "duplicate", False)
                  else (item.reason or "matched"))
        self.repo.mark_enqueued(feed.id, item.key, token, task.id, reason, self.clock())
        season, episode = parsing.season_episode(item.meta)
        self.repo.note_enqueued(feed.id, season, episode)
        return task.id

    def _download_request(self, feed: Feed, item: FeedItem, batch: dict[str, str | None]) -> AddDownload:
        options = feed.options
        url = str(item.url)
        raw: dict[str, Any] = {"url": url, "priority": options.priority, "tags": list(options.tags)}
        if options.category:
            raw["category"] = options.category
        if options.filename_prefix:
            raw["filename"] = options.filename_prefix + filenames.from_url(url)
        # A private feed's credentials go to its own host only.
        if options.headers and host_of(url) == host_of(feed.url):
            raw["headers"] = dict(options.headers)
        if options.batch_name or options.batch_per_refresh:
            if "id" not in batch:
                name = options.batch_name or f"{feed.name} {iso(self.clock())}"
                batch["id"] = self.repo.ensure_batch(feed, name, per_refresh=not options.batch_name,
                                                     now=self.clock())
                batch["name"] = name
            raw["batch_id"], raw["batch_name"] = batch["id"], batch["name"]
        try:
            return AddDownload.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            message = str(first["msg"]).removeprefix("Value error, ")
            raise ValidationFailed(f"{'.'.join(str(p) for p in first['loc'])}: {message}") from None

    def _announce(self, feed: Feed, outcome: Outcome, actor: str) -> None:
        if outcome.enqueued:
            self.events.matched(feed, outcome.matched_items, actor)

    # -- items ------------------------------------------------------------------------------
    def items(self, who: Identity, feed_id: str, q: ItemsQuery) -> tuple[list[FeedItem], int, str | None]:
        feed = self.get(who, feed_id)
        try:
            items, cursor = self.repo.items_page(feed.id, q.state, q.per_page, q.cursor)
        except BadCursor as exc:
            raise field_error("cursor", str(exc)) from None
        return items, feed.items_seen, cursor

    def collect(self, who: Identity, feed_id: str) -> dict[str, Any]:
        """Enqueue every item of the feed the rules match, once, even ones seen before (a
        finished series); items with a download already are left alone."""
        self._writer(who)
        feed = self.get(who, feed_id)
        rules = compile_rules(feed.rules)
        matched = 0
        for item in self.repo.items_of(feed.id):
            if item.download_id or item.state == ItemState.MATCHED:
                matched += item.state == ItemState.MATCHED
                continue
            meta = item.meta or (parsing.metadata(item.title) if rules.needs_episodes else {})
            # "Only new episodes" does not apply: collecting takes the whole series.
            verdict = judge(rules, self._facts(item.title, item.link, item.size, meta), None)
            if verdict.matched and self.repo.reopen_item(feed.id, item.key, verdict.rule, verdict.reason,
                                                        self.clock()):
                matched += 1
        outcome = Outcome(feed.id)
        self._settle(replace(feed, last_episode=None, last_season=None), Deadline(API_BUDGET_SECONDS), outcome,
                     who.username)
        self._announce(feed, outcome, who.username)
        return {"feed_id": feed.id, "matched": matched, "enqueued": outcome.enqueued,
                "download_ids": outcome.download_ids, "failed": matched - outcome.enqueued}

    def enqueue_item(self, who: Identity, feed_id: str, item_id: str) -> FeedItem:
        """Enqueue one item by hand, whatever the rules say (once: an item with a download
        answers 409)."""
        self._writer(who)
        feed = self.get(who, feed_id)
        item = self.repo.get_item(feed.id, item_id) if _ID.match(item_id) else None
        if item is None:
            raise NotFound(f"no item with id {item_id} in feed {feed_id}")
        if item.download_id:
            raise Conflict(f"the item is already enqueued as download {item.download_id}")
        if item.state != ItemState.MATCHED:
            self.repo.reopen_item(feed.id, item.key, None, f"enqueued by hand by {who.username}", self.clock())
        current = self.repo.get_item(feed.id, item.key) or item
        if self._enqueue(feed, current, {}, who.username) is None:
            after = self.repo.get_item(feed.id, item.key) or current
            if after.state == ItemState.FAILED:
                raise Conflict(after.reason or "the download could not be added")
            if not after.download_id:
                raise Conflict("the item is being enqueued by a refresh right now; try again")
        return self.repo.get_item(feed.id, item.key) or current

    def search(self, who: Identity, q: SearchQuery) -> tuple[list[FeedItem], str | None]:
        pairs = list(self._search(who, q.q, q.feed_id, q.per_page, q.cursor))
        items = [p[0] for p in pairs]
        cursor = pairs[-1][1] if len(pairs) == q.per_page else None
        return items, cursor

    def search_stream(self, who: Identity, text: str, feed_id: str | None = None,
                      limit: int = 200) -> Iterator[FeedItem]:
        """Items matching ``text`` as they are found (the WebSocket ``search`` action)."""
        for item, _ in self._search(who, text, feed_id, limit, None):
            yield item

    def _search(self, who: Identity, text: str, feed_id: str | None, limit: int, cursor: str | None
                ) -> Iterator[tuple[FeedItem, str | None]]:
        feed_ids = {self.get(who, feed_id).id} if feed_id else None
        try:
            yield from self.repo.search(None if who.is_admin else who.user_id, text.strip().lower(), limit, cursor,
                                        feed_ids)
        except BadCursor as exc:
            raise field_error("cursor", str(exc)) from None

    # -- automation switch ------------------------------------------------------------------
    def automation_running(self) -> bool:
        return bool(self.repo.automation().get("running", True))

    def automation(self, who: Identity) -> dict[str, Any]:
        state = self.repo.automation()
        tick = self.repo.last_tick()
        feeds, enabled = self.repo.count_feeds(None if who.is_admin else who.user_id)
        return {
            "running": bool(state.get("running", True)), "changed_at": iso(state.get("at")),
            "changed_by": state.get("by"), "last_tick_at": iso(tick.get("at")),
            "last_tick_claimed": tick.get("claimed"), "next_refresh_at": iso(self.repo.next_due_at()),
            "feeds": feeds, "enabled_feeds": enabled,
        }

    def set_automation(self, who: Identity, running: bool) -> dict[str, Any]:
        if not who.is_admin:
            raise Forbidden("only an admin starts or stops the feeds automation")
        self.repo.set_automation({"running": running, "at": self.clock(), "by": who.username}, self.clock())
        self.activity.record(owner=None, actor=who.username, kind="feed.automation",
                             message=f"feeds automation {'started' if running else 'stopped'}")
        return self.automation(who)
