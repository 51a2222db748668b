"""Where feeds and feed items are kept: the only module of the package that speaks PynamoDB.

Every write that decides something is conditional: an item is recorded only by the refresh
that saw it first, judged only while it is ``new``, enqueued only by the refresh that holds
its enqueue claim (and never once it has a download), so two refreshes of one feed at the
same time enqueue each item once, and a refresh that crashed leaves its items pending for
the next one (the sparse by-pending index).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from ..persistence import cursors
from ..persistence.conditions import condition_failed, update_if
from ..persistence.models import BatchModel, ControlModel, FeedItemModel, FeedModel
from .models import PENDING_STATES, Feed, FeedItem, FeedOptions, ItemState, due_key

log = logging.getLogger("haul.feeds")
DUE = "due"  # the one partition of the by-due index
AUTOMATION_KEY = "feeds#automation"
TICK_KEY = "feeds#tick"


class BadCursor(ValueError):
    pass


M = TypeVar("M", FeedModel, FeedItemModel)


def _updated(model: M, actions: list[Action], condition: Condition | None) -> M | None:
    """``model`` after a conditional UpdateItem (its new image), or None if the condition failed."""
    return model if update_if(model, actions, condition) else None


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def to_feed(m: FeedModel) -> Feed:
    return Feed(
        id=m.id, owner=m.owner, owner_name=m.owner_name, url=m.url, name=m.name, enabled=bool(m.enabled),
        interval_minutes=int(m.interval_minutes), rules=list(m.rules or []), options=FeedOptions.of(m.options),
        created_at=int(m.created_at), updated_at=int(m.updated_at), next_refresh_at=int(m.next_refresh_at),
        title=m.title, etag=m.etag, last_modified=m.last_modified, last_refresh_at=_int(m.last_refresh_at),
        last_ok_at=_int(m.last_ok_at), last_error=m.last_error, failures=int(m.failures or 0),
        last_season=_int(m.last_season), last_episode=_int(m.last_episode), items_seen=int(m.items_seen or 0),
        items_enqueued=int(m.items_enqueued or 0), batch_id=m.batch_id,
    )


def to_item(m: FeedItemModel) -> FeedItem:
    return FeedItem(
        feed_id=m.feed_id, key=m.key, owner=m.owner, guid=m.guid, title=m.title, link=m.link, url=m.url,
        size=_int(m.size), published_at=_int(m.published_at), state=ItemState(m.state), seen_at=int(m.seen_at),
        updated_at=int(m.updated_at), meta=dict(m.meta or {}), rule=m.rule, reason=m.reason,
        download_id=m.download_id,
    )


def _cursor(key: dict[str, Any] | None) -> str | None:
    return cursors.pack(key) if key else None


def _start(cursor: str | None, names: set[str]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        key = cursors.unpack(cursor)
    except ValueError:
        raise BadCursor("is not a cursor this API issued for this list") from None
    if not isinstance(key, dict) or set(key) != names or not all(
            isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values()):
        raise BadCursor("is not a cursor this API issued for this list")
    return key


class FeedRepository:
    # -- feeds ------------------------------------------------------------------------------
    def create_feed(self, feed: Feed) -> None:
        FeedModel(
            feed.id, owner=feed.owner, owner_name=feed.owner_name, url=feed.url, name=feed.name,
            enabled=feed.enabled, interval_minutes=feed.interval_minutes, rules=feed.rules,
            options=feed.options.stored(), created_key=f"{feed.created_at:013d}#{feed.id}",
            created_at=feed.created_at, updated_at=feed.updated_at, next_refresh_at=feed.next_refresh_at,
            sched=DUE if feed.enabled else None,
            due_key=due_key(feed.next_refresh_at, feed.id) if feed.enabled else None,
            failures=0, items_seen=0, items_enqueued=0,
        ).save(condition=FeedModel.id.does_not_exist())

    def get_feed(self, feed_id: str) -> Feed | None:
        try:
            return to_feed(FeedModel.get(feed_id, consistent_read=True))
        except DoesNotExist:
            return None

    def feeds_page(self, owner: str | None, limit: int, cursor: str | None) -> tuple[list[Feed], str | None]:
        """A page of ``owner``'s feeds (None: everyone's), oldest first."""
        if owner is None:
            start = _start(cursor, {"id", "kind", "created_key"})
            result = FeedModel.by_created.query("feed", limit=limit, last_evaluated_key=start)
        else:
            start = _start(cursor, {"id", "owner", "created_key"})
            result = FeedModel.by_owner.query(owner, limit=limit, last_evaluated_key=start)
        feeds = [to_feed(m) for m in result]
        return feeds, _cursor(result.last_evaluated_key)

    def all_feed_ids(self, owner: str | None) -> list[str]:
        index = FeedModel.by_created if owner is None else FeedModel.by_owner
        return [m.id for m in index.query("feed" if owner is None else owner)]

    def count_feeds(self, owner: str | None) -> tuple[int, int]:
        """(feeds, enabled feeds) of ``owner`` (None: everyone's)."""
        index = FeedModel.by_created if owner is None else FeedModel.by_owner
        feeds = list(index.query("feed" if owner is None else owner))
        return len(feeds), sum(1 for f in feeds if f.enabled)

    def change_feed(self, feed_id: str, changes: dict[str, Any], now: int) -> Feed | None:
        """Apply settings ``changes`` (field -> value); None if the feed is gone."""
        actions: list[Action] = [FeedModel.updated_at.set(now)]
        for name, value in changes.items():
            if name == "options":
                actions.append(FeedModel.options.set(value))
            elif name == "rules":
                actions.append(FeedModel.rules.set(value))
            else:
                attr = getattr(FeedModel, name)
                actions.append(attr.set(value) if value is not None else attr.remove())
        if "enabled" in changes or "next_refresh_at" in changes:
            current = self.get_feed(feed_id)
            if current is None:
                return None
            enabled = changes.get("enabled", current.enabled)
            at = int(changes.get("next_refresh_at", current.next_refresh_at))
            if enabled:
                actions += [FeedModel.sched.set(DUE), FeedModel.due_key.set(due_key(at, feed_id))]
            else:
                actions += [FeedModel.sched.remove(), FeedModel.due_key.remove()]
        return self._update(feed_id, actions, FeedModel.id.exists())

    def _update(self, feed_id: str, actions: list[Action], condition: Condition | None) -> Feed | None:
        model = _updated(FeedModel(feed_id), actions, condition)
        return to_feed(model) if model is not None else None

    def delete_feed(self, feed_id: str) -> None:
        try:
            FeedModel(feed_id).delete()
        except DeleteError as exc:
            log.debug("deleting feed %s: %s", feed_id, exc)
        keys = [m.key for m in FeedItemModel.query(feed_id, attributes_to_get=["feed_id", "key"])]
        with FeedItemModel.batch_write() as batch:
            for key in keys:
                batch.delete(FeedItemModel(feed_id, key))

    # -- scheduling -------------------------------------------------------------------------
    def due_feeds(self, now: int, limit: int) -> list[tuple[str, str]]:
        """(feed id, due key) of enabled feeds due at ``now``, soonest first: one Query."""
        result = FeedModel.by_due.query(DUE, FeedModel.due_key <= f"{now:013d}#~", limit=limit)
        return [(m.id, str(m.due_key)) for m in result]

    def claim_due(self, feed_id: str, seen_due_key: str, until: int) -> bool:
        """Take a due feed out of the due index until ``until`` (a crashed refresh's feed is
        due again then), if it is still due as ``seen_due_key``: one scheduler sends it."""
        done = self._update(
            feed_id,
            [FeedModel.next_refresh_at.set(until), FeedModel.due_key.set(due_key(until, feed_id))],
            (FeedModel.due_key == seen_due_key) & FeedModel.sched.exists(),
        )
        return done is not None

    def record_success(self, feed: Feed, title: str | None, etag: str | None, last_modified: str | None,
                       now: int, next_at: int, seen: int) -> Feed | None:
        actions: list[Action] = [
            FeedModel.last_refresh_at.set(now), FeedModel.last_ok_at.set(now), FeedModel.last_error.remove(),
            FeedModel.failures.set(0), FeedModel.next_refresh_at.set(next_at),
            FeedModel.etag.set(etag) if etag else FeedModel.etag.remove(),
            FeedModel.last_modified.set(last_modified) if last_modified else FeedModel.last_modified.remove(),
        ]
        if title:
            actions.append(FeedModel.title.set(title[:500]))
        if seen:
            actions.append(FeedModel.items_seen.add(seen))
        if feed.enabled:
            actions.append(FeedModel.due_key.set(due_key(next_at, feed.id)))
        return self._update(feed.id, actions, FeedModel.id.exists() & (FeedModel.enabled == feed.enabled))

    def record_failure(self, feed: Feed, error: str, now: int, next_at: int) -> Feed | None:
        actions: list[Action] = [
            FeedModel.last_refresh_at.set(now), FeedModel.last_error.set(error[:1000]),
            FeedModel.failures.add(1), FeedModel.next_refresh_at.set(next_at),
        ]
        if feed.enabled:
            actions.append(FeedModel.due_key.set(due_key(next_at, feed.id)))
        return self._update(feed.id, actions, FeedModel.id.exists() & (FeedModel.enabled == feed.enabled))

    def note_enqueued(self, feed_id: str, season: int | None, episode: int | None) -> None:
        """Count an enqueued item; move the feed's last episode forward (never back)."""
        self._update(feed_id, [FeedModel.items_enqueued.add(1)], FeedModel.id.exists())
        if episode is None:
            return
        season = season or 1
        newer = (FeedModel.last_episode.does_not_exist() | (FeedModel.last_season < season)
                 | ((FeedModel.last_season == season) & (FeedModel.last_episode < episode)))
        self._update(feed_id, [FeedModel.last_season.set(season), FeedModel.last_episode.set(episode)],
                     FeedModel.id.exists() & newer)

    def attach_batch(self, feed_id: str, batch_id: str) -> str:
        """The feed's one batch: ``batch_id`` if it had none, else the one it has."""
        done = self._update(feed_id, [FeedModel.batch_id.set(batch_id)], FeedModel.batch_id.does_not_exist())
        if done is not None:
            return batch_id
        feed = self.get_feed(feed_id)
        return (feed.batch_id if feed else None) or batch_id

    def ensure_batch(self, feed: Feed, name: str, per_refresh: bool, now: int) -> str:
        """The batch a feed's new downloads join: a new one (``per_refresh``), or the feed's
        one batch, made the first time (the batches API lists it as any other)."""
        if not per_refresh and feed.batch_id:
            return feed.batch_id
        batch_id = str(uuid.uuid4())
        BatchModel(batch_id, owner=feed.owner, name=name[:200], created_key=f"{now:013d}#{batch_id}",
                   created_at=now, updated_at=now, items=0, total_bytes=0, done_bytes=0).save()
        if per_refresh:
            return batch_id
        chosen = self.attach_batch(feed.id, batch_id)
        if chosen != batch_id:  # another refresh made the feed's batch first
            BatchModel(batch_id).delete()
        return chosen

    # -- automation switch ------------------------------------------------------------------
    def automation(self) -> dict[str, Any]:
        try:
            item = ControlModel.get(AUTOMATION_KEY, consistent_read=True)
        except DoesNotExist:
            return {}
        return dict(item.data or {})

    def set_automation(self, data: dict[str, Any], now: int) -> None:
        ControlModel(AUTOMATION_KEY, data=data, updated_at=now).save()

    def note_tick(self, now: int, claimed: int) -> None:
        """When the scheduler last looked for due feeds, and how many it sent."""
        ControlModel(TICK_KEY, data={"at": now, "claimed": claimed}, updated_at=now).save()

    def last_tick(self) -> dict[str, Any]:
        try:
            return dict(ControlModel.get(TICK_KEY).data or {})
        except DoesNotExist:
            return {}

    def next_due_at(self) -> int | None:
        for m in FeedModel.by_due.query(DUE, limit=1):
            return int(str(m.due_key).split("#", 1)[0])
        return None

    # -- items ------------------------------------------------------------------------------
    def seen_keys(self, feed_id: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` the feed has recorded already (BatchGetItem, 100 at a time)."""
        wanted = list(dict.fromkeys(keys))
        found: set[str] = set()
        for i in range(0, len(wanted), 100):
            chunk = [(feed_id, k) for k in wanted[i:i + 100]]
            for m in FeedItemModel.batch_get(chunk, attributes_to_get=["feed_id", "key"]):
                found.add(m.key)
        return found

    @staticmethod
    def _new_item(item: FeedItem) -> FeedItemModel:
        return FeedItemModel(
            item.feed_id, item.key, owner=item.owner, guid=item.guid, title=item.title, link=item.link,
            url=item.url, size=item.size, published_at=item.published_at, meta=item.meta or None,
            state=item.state.value, rule=item.rule, reason=item.reason, seen_at=item.seen_at,
            updated_at=item.updated_at, seen_key=f"{item.seen_at:013d}#{item.feed_id}#{item.key}",
            search=f"{item.title} {item.link or ''} {item.url or ''}".lower()[:2000],
            pending=item.feed_id if item.state in PENDING_STATES else None,
        )

    def record_new_item(self, item: FeedItem) -> bool:
        """Record an item (``new``, or already judged) unless the feed has it already; a
        ``new`` or ``matched`` one is pending."""
        try:
            self._new_item(item).save(condition=FeedItemModel.key.does_not_exist())
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def get_items(self, feed_id: str, keys: list[str]) -> list[FeedItem]:
        """The items of ``keys`` that exist (BatchGetItem, 100 at a time; strongly consistent)."""
        out: list[FeedItem] = []
        for i in range(0, len(keys), 100):
            chunk = [(feed_id, k) for k in keys[i:i + 100]]
            out.extend(to_item(m) for m in FeedItemModel.batch_get(chunk, consistent_read=True))
        return out

    def count_seen(self, feed_id: str, recorded: int) -> None:
        """Count items recorded by a refresh that ran out of time before it finished."""
        if recorded:
            self._update(feed_id, [FeedModel.items_seen.add(recorded)], FeedModel.id.exists())

    def get_item(self, feed_id: str, key: str) -> FeedItem | None:
        try:
            return to_item(FeedItemModel.get(feed_id, key, consistent_read=True))
        except DoesNotExist:
            return None

    def pending_keys(self, feed_id: str) -> list[str]:
        return [m.key for m in FeedItemModel.by_pending.query(feed_id)]

    def _update_item(self, feed_id: str, key: str, actions: list[Action], condition: Condition) -> FeedItem | None:
        model = _updated(FeedItemModel(feed_id, key), actions, condition)
        return to_item(model) if model is not None else None

    def judge_item(self, feed_id: str, key: str, matched: bool, rule: str | None, reason: str,
                   meta: dict[str, Any] | None, now: int) -> FeedItem | None:
        """``new`` -> ``matched`` (still pending) or ``excluded`` (settled); None if another
        refresh judged it first."""
        actions: list[Action] = [
            FeedItemModel.state.set((ItemState.MATCHED if matched else ItemState.EXCLUDED).value),
            FeedItemModel.rule.set(rule) if rule else FeedItemModel.rule.remove(),
            FeedItemModel.reason.set(reason[:500]), FeedItemModel.updated_at.set(now),
        ]
        if meta:
            actions.append(FeedItemModel.meta.set(meta))
        if not matched:
            actions.append(FeedItemModel.pending.remove())
        return self._update_item(feed_id, key, actions, FeedItemModel.state == ItemState.NEW.value)

    def claim_enqueue(self, feed_id: str, key: str, token: str, now: int, until: int) -> FeedItem | None:
        """Hold a matched item for enqueueing: only while it has no download and nobody else
        holds it (a crashed holder's claim runs out at ``claimed_until``)."""
        condition = ((FeedItemModel.state == ItemState.MATCHED.value) & FeedItemModel.download_id.does_not_exist()
                     & (FeedItemModel.claim.does_not_exist() | (FeedItemModel.claimed_until < now)))
        return self._update_item(
            feed_id, key, [FeedItemModel.claim.set(token), FeedItemModel.claimed_until.set(until)], condition)

    def mark_enqueued(self, feed_id: str, key: str, token: str, download_id: str, reason: str, now: int) -> bool:
        done = self._update_item(feed_id, key, [
            FeedItemModel.state.set(ItemState.ENQUEUED.value), FeedItemModel.download_id.set(download_id),
            FeedItemModel.reason.set(reason[:500]), FeedItemModel.updated_at.set(now),
            FeedItemModel.pending.remove(), FeedItemModel.claim.remove(), FeedItemModel.claimed_until.remove(),
        ], FeedItemModel.claim == token)
        return done is not None

    def mark_failed(self, feed_id: str, key: str, token: str, reason: str, now: int) -> bool:
        done = self._update_item(feed_id, key, [
            FeedItemModel.state.set(ItemState.FAILED.value), FeedItemModel.reason.set(reason[:500]),
            FeedItemModel.updated_at.set(now), FeedItemModel.pending.remove(), FeedItemModel.claim.remove(),
            FeedItemModel.claimed_until.remove(),
        ], FeedItemModel.claim == token)
        return done is not None

    def reopen_item(self, feed_id: str, key: str, rule: str | None, reason: str, now: int) -> FeedItem | None:
        """Make an item matched (and pending) again, unless it already has a download."""
        return self._update_item(feed_id, key, [
            FeedItemModel.state.set(ItemState.MATCHED.value), FeedItemModel.pending.set(feed_id),
            FeedItemModel.rule.set(rule) if rule else FeedItemModel.rule.remove(),
            FeedItemModel.reason.set(reason[:500]), FeedItemModel.updated_at.set(now),
        ], FeedItemModel.key.exists() & FeedItemModel.download_id.does_not_exist()
            & (FeedItemModel.state != ItemState.MATCHED.value))

    def items_of(self, feed_id: str) -> Iterator[FeedItem]:
        for m in FeedItemModel.query(feed_id):
            yield to_item(m)

    def items_page(self, feed_id: str, state: str | None, limit: int, cursor: str | None
                   ) -> tuple[list[FeedItem], str | None]:
        start = _start(cursor, {"feed_id", "key"})
        condition = FeedItemModel.state == state if state else None
        result = FeedItemModel.query(feed_id, filter_condition=condition, limit=limit, last_evaluated_key=start)
        items = [to_item(m) for m in result]
        return items, _cursor(result.last_evaluated_key)

    def search(self, owner: str | None, text: str, limit: int, cursor: str | None, feed_ids: set[str] | None = None,
               ) -> Iterator[tuple[FeedItem, str | None]]:
        """Items whose title or links contain ``text`` (lower case), newest first, with the
        cursor after each: a Query on the owner's (or everyone's) index with a filter."""
        condition = FeedItemModel.search.contains(text)
        if owner is None:
            start = _start(cursor, {"feed_id", "key", "kind", "seen_key"})
            result = FeedItemModel.by_created.query("item", filter_condition=condition, scan_index_forward=False,
                                                    last_evaluated_key=start, page_size=200)
        else:
            start = _start(cursor, {"feed_id", "key", "owner", "seen_key"})
            result = FeedItemModel.by_owner.query(owner, filter_condition=condition, scan_index_forward=False,
                                                  last_evaluated_key=start, page_size=200)
        found = 0
        for m in result:
            if feed_ids is not None and m.feed_id not in feed_ids:
                continue
            found += 1
            key: dict[str, Any] = {"feed_id": {"S": m.feed_id}, "key": {"S": m.key}, "seen_key": {"S": m.seen_key}}
            key["kind" if owner is None else "owner"] = {"S": "item" if owner is None else m.owner}
            yield to_item(m), _cursor(key)
            if found >= limit:
                return
