"""Notifications: targets, the test button, admin sends, the deliveries list, events in and
deliveries out.

An event (:meth:`NotifyService.publish`) becomes one delivery per enabled target of its owner
that subscribes to it: a record (``pending``) and one message on the notify queue. The
queue's consumer (:meth:`NotifyService.deliver`) makes one attempt; a failure sends the
message again with a delay that doubles each time (SQS delays at most 15 minutes), and the
last allowed attempt's failure marks the delivery ``failed`` and puts its message on the
notify dead-letter queue. Nothing here runs in the engine's path: events are read from the
tasks table's stream, and sending is the consumer's.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..adapters.urlguard import UrlGuard
from ..api.errors import Conflict, Forbidden, NotFound, field_error
from ..auth.identity import Identity
from ..persistence.repository import now_ms
from ..realtime.messages import timestamp
from . import signing
from .crypto import SecretBox
from .events import Event, EventName, delivery_error
from .models import CreateTarget, Delivery, DeliveryQuery, DeliveryStatus, PatchTarget, SendMessage, Target
from .persistence import DeliveryStore, TargetStore
from .senders import BadTarget, Senders, SendResult, check_apprise_url, check_webhook_url, display_url

log = logging.getLogger("haul.notify")
MAX_TARGETS_PER_USER = 50
MAX_DELAY = 900
_ID = re.compile(r"^[0-9a-f]{16}$")


def backoff(attempt: int, base: float) -> int:
    """Seconds before attempt ``attempt + 1``: ``base * 2**(attempt - 1)``, at most 15 minutes."""
    return int(min(MAX_DELAY, max(1.0, base * 2 ** min(max(attempt - 1, 0), 20))))


class NotifyService:
    def __init__(self, targets: TargetStore, deliveries: DeliveryStore, box: SecretBox, senders: Senders,
                 guard: UrlGuard, queue: Any, dlq: Any, attempts: int = 5, backoff_seconds: float = 30.0,
                 push: Callable[[str, dict[str, Any]], None] | None = None,
                 clock: Callable[[], int] = now_ms) -> None:
        self.targets = targets
        self.deliveries = deliveries
        self.box = box
        self.senders = senders
        self.guard = guard
        self.queue = queue
        self.dlq = dlq
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.push = push  # owner, message -> the WebSocket ``notification`` to their rooms
        self.clock = clock

    # -- targets ---------------------------------------------------------------------------------
    def _check_url(self, kind: str, url: str) -> None:
        try:
            (check_webhook_url if kind == "webhook" else check_apprise_url)(url, self.guard)
        except BadTarget as exc:
            raise field_error("url", str(exc)) from None

    def create(self, who: Identity, req: CreateTarget) -> Target:
        self._check_url(req.kind, req.url)
        if req.kind == "apprise" and (req.secret or req.headers):
            raise field_error("secret" if req.secret else "headers", "is for webhooks; an Apprise URL carries its own")
        if len(self.targets.owned_by(who.user_id)) >= MAX_TARGETS_PER_USER:
            raise Conflict(f"you have {MAX_TARGETS_PER_USER} targets, the most one user may have")
        now = self.clock()
        target = Target(
            id=uuid.uuid4().hex[:16], owner=who.user_id, name=req.name, kind=req.kind,
            display=display_url(req.kind, req.url), events=sorted(req.events), enabled=req.enabled,
            has_secret=bool(req.secret), header_names=sorted(req.headers), created_at=now, updated_at=now,
            sealed=self.box.seal({"url": req.url, "secret": req.secret, "headers": req.headers}),
        )
        self.targets.save(target)
        return target

    def get(self, who: Identity, target_id: str) -> Target:
        target = self.targets.find(target_id) if _ID.match(target_id) else None
        if target is None or not who.sees(target.owner):
            raise NotFound(f"no notification target with id {target_id}")
        return target

    def visible(self, who: Identity, owner: str | None = None) -> list[Target]:
        if owner is not None and owner != who.user_id and not who.is_admin:
            raise Forbidden("only an admin lists other users' targets")
        return self.targets.owned_by(owner or who.user_id)

    def patch(self, who: Identity, target_id: str, req: PatchTarget) -> Target:
        target = self.get(who, target_id)
        fields = req.model_fields_set
        secret_parts = self.box.open(target.sealed)
        if req.url is not None:
            self._check_url(target.kind, req.url)
            secret_parts["url"] = req.url
        if target.kind == "apprise" and (req.secret or req.headers):
            raise field_error("secret" if req.secret else "headers", "is for webhooks; an Apprise URL carries its own")
        if "secret" in fields:
            if req.secret and len(req.secret) < 16:
                raise field_error("secret", "must be at least 16 characters (or \"\" to remove it)")
            secret_parts["secret"] = req.secret or None
        if req.headers is not None:
            secret_parts["headers"] = req.headers
        changed = replace(
            target,
            name=req.name or target.name,
            events=sorted(req.events) if req.events is not None else target.events,
            enabled=target.enabled if req.enabled is None else req.enabled,
            display=display_url(target.kind, secret_parts["url"]),
            has_secret=bool(secret_parts.get("secret")),
            header_names=sorted(secret_parts.get("headers") or {}),
            sealed=self.box.seal(secret_parts),
            updated_at=max(self.clock(), target.updated_at + 1),
        )
        if not self.targets.save(changed, target.updated_at):
            raise Conflict("the target changed meanwhile; read it again and retry")
        return changed

    def delete(self, who: Identity, target_id: str) -> None:
        self.get(who, target_id)
        if not self.targets.remove(target_id):
            raise NotFound(f"no notification target with id {target_id}")

    # -- sending ---------------------------------------------------------------------------------
    def _send_now(self, target: Target, delivery_id: str, event: str, title: str, message: str, level: str,
                  data: dict[str, Any], occurred_ms: int) -> SendResult:
        parts = self.box.open(target.sealed)
        if target.kind == "webhook":

            payload = signing.body(delivery_id, event, timestamp(occurred_ms), title, message, level, data)
            return self.senders.webhook(parts["url"], parts.get("secret"), dict(parts.get("headers") or {}),
                                        delivery_id, event, payload)
        return self.senders.apprise(parts["url"], title, message)

    def test(self, who: Identity, target_id: str) -> dict[str, Any]:
        """Send a test message now and answer what the service said (recorded as a delivery)."""
        target = self.get(who, target_id)
        now = self.clock()
        delivery = Delivery(f"t{uuid.uuid4().hex[:15]}", target.owner, target.id, target.name, EventName.TEST.value,
                            "Haul test notification", DeliveryStatus.PENDING, 0, now, now)
        self.deliveries.open(delivery)
        result = self._send_now(target, delivery.id, EventName.TEST.value, delivery.title,
                                f"This is a test from Haul, sent by {who.username}.", "info",
                                {"target_id": target.id}, now)
        status = DeliveryStatus.DELIVERED if result.ok else DeliveryStatus.FAILED
        self.deliveries.attempted(delivery.id, 1, status, self.clock(), None if result.ok else result.detail,
                                  result.detail)
        return {"ok": result.ok, "status": result.status, "response": result.detail, "delivery_id": delivery.id}

    def send(self, who: Identity, req: SendMessage) -> list[Delivery]:
        """An admin's message to chosen targets (anyone's), queued."""
        found = [self.targets.find(t) if _ID.match(t) else None for t in dict.fromkeys(req.target_ids)]
        missing = [t for t, f in zip(dict.fromkeys(req.target_ids), found, strict=True) if f is None]
        if missing:
            raise NotFound(f"no notification target with id {', '.join(missing[:10])}")
        event = Event(EventName.MESSAGE, who.user_id, req.title, req.message, req.level,
                      {"sent_by": who.username})
        return [self._queue(t, event) for t in found if t is not None]

    def send_to_own(self, who: Identity, title: str, message: str, target_ids: list[str] | None) -> int:
        """A job's message to its owner's targets (``None``: all enabled ones); how many were queued."""
        targets = [t for t in self.targets.owned_by(who.user_id) if t.enabled]
        if target_ids is not None:
            targets = [t for t in targets if t.id in set(target_ids)]
        event = Event(EventName.MESSAGE, who.user_id, title, message, "info", {"sent_by": who.username})
        return len([self._queue(t, event) for t in targets])

    def wants(self, owner: str, event: EventName, targets: dict[str, list[Target]]) -> bool:
        """Whether any enabled target of ``owner`` subscribes to ``event`` (``targets``: a cache)."""
        if owner not in targets:
            targets[owner] = self.targets.owned_by(owner)
        return any(t.enabled and event.value in t.events for t in targets[owner])

    def publish(self, event: Event, targets: dict[str, list[Target]] | None = None, exclude: str | None = None) -> int:
        """Queue the event for every enabled target of its owner that subscribes to it
        (``targets``: owner -> targets already read, a cache for a batch of events; ``exclude``:
        a target id left out)."""
        count = 0
        if targets is None:
            targets = {}
        if event.owner not in targets:
            targets[event.owner] = self.targets.owned_by(event.owner)
        for target in targets[event.owner]:
            if target.enabled and event.name.value in target.events and target.id != exclude:
                self._queue(target, event)
                count += 1
        if self.push is not None and not event.name.value.startswith("download."):
            # Downloads' own notifications reach the WebSocket from the fan-out already.
            try:
                self.push(event.owner, {"level": event.level, "title": event.title, "message": event.message,
                                        "event": event.name.value, **event.data})
            except Exception:
                log.exception("could not push a %s notification to the WebSocket", event.name.value)
        return count

    def _queue(self, target: Target, event: Event) -> Delivery:
        now = self.clock()
        ident = (hashlib.sha256(f"{event.key}|{target.id}".encode()).hexdigest()[:16] if event.key
                 else secrets.token_hex(8))
        delivery = Delivery(ident, target.owner, target.id, target.name, event.name.value, event.title,
                            DeliveryStatus.PENDING, 0, now, now)
        if not self.deliveries.open(delivery):
            # Keyed events only: a retried stream batch (or a second publish of the same
            # occurrence). If the first try opened the record but its send failed, nothing
            # would ever attempt it: a delivery still pending at attempt 0 is queued again.
            # When the first message did go out, the copy is harmless: deliver() makes
            # attempt 1 once (a conditional write on the attempt count).
            found = self.deliveries.find(ident)
            if found is None or found.status != DeliveryStatus.PENDING or found.attempts != 0:
                return found or delivery
            delivery = found
        self.queue.send({"kind": "notify", "delivery": delivery.id, "attempt": 1, "title": event.title,
                         "message": event.message, "level": event.level, "data": event.data, "at": now})
        return delivery

    def deliver(self, message: dict[str, Any]) -> DeliveryStatus | None:
        """One attempt of one delivery (the notify queue's consumer); the status it left."""
        ident = str(message.get("delivery", ""))
        delivery = self.deliveries.find(ident) if re.match(r"^t?[0-9a-f]{15,16}$", ident) else None
        attempt = int(message.get("attempt", 1))
        if delivery is None or delivery.attempts >= attempt or delivery.status in (
                DeliveryStatus.DELIVERED, DeliveryStatus.FAILED):
            return None  # unknown, or this attempt was made already (a duplicate message)
        target = self.targets.find(delivery.target_id)
        if target is None:
            result = SendResult(False, None, "the target was deleted")
            final = True
        else:
            result = self._send_now(target, delivery.id, delivery.event, str(message.get("title", "")),
                                    str(message.get("message", "")), str(message.get("level", "info")),
                                    dict(message.get("data") or {}), int(message.get("at", self.clock())))
            final = attempt >= self.attempts
        if result.ok:
            status = DeliveryStatus.DELIVERED
        else:
            status = DeliveryStatus.FAILED if final else DeliveryStatus.RETRYING
        if not self.deliveries.attempted(delivery.id, attempt, status, self.clock(),
                                         None if result.ok else result.detail, result.detail):
            return None
        if status == DeliveryStatus.RETRYING:
            delay = max(backoff(attempt, self.backoff_seconds), int(result.retry_after or 0))
            self.queue.send({**message, "attempt": attempt + 1}, delay=min(delay, MAX_DELAY))
        elif status == DeliveryStatus.FAILED:
            self.dlq.send({**message, "error": result.detail, "attempts": attempt})
            log.warning("notification %s to target %s failed after %d attempt(s): %s", delivery.id,
                        delivery.target_id, attempt, result.detail)
            if target is not None:
                self._alert(delivery_error(delivery.owner, delivery.target_id, delivery.target_name, delivery.event,
                                           attempt, result.detail, self.clock()), exclude=delivery.target_id)
        return status

    def _alert(self, event: Event | None, exclude: str | None = None) -> None:
        """Publish an ``error`` event; a failure to queue it is logged, never raised."""
        if event is None:
            return
        try:
            self.publish(event, exclude=exclude)
        except Exception:
            log.exception("could not queue the %s notification", event.name.value)

    def list_deliveries(self, who: Identity, q: DeliveryQuery) -> tuple[list[Delivery], int, str | None]:
        owner = None if who.is_admin else who.user_id
        try:
            return self.deliveries.page(owner, status=q.status.value if q.status else None, target_id=q.target_id,
                                        event=q.event.value if q.event else None, since=q.since,
                                        per_page=q.per_page, cursor=q.cursor)
        except ValueError as exc:
            raise field_error("cursor", str(exc)) from None
