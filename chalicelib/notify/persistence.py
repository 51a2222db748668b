"""Where targets, deliveries and the local sealing key live (chalicelib/persistence/models.py
NotifyTargetModel, NotifyDeliveryModel, ControlModel): the only module of chalicelib/notify/
that talks to DynamoDB."""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime
from typing import Any, cast

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.expressions.condition import Condition

from ..persistence import cursors
from ..persistence.conditions import condition_failed, save_if, update_if
from ..persistence.models import ControlModel, NotifyDeliveryModel, NotifyTargetModel
from .models import Delivery, DeliveryStatus, Target

log = logging.getLogger("haul.notify")
KEY_ITEM = "notify-key"
DELIVERY_RETENTION_DAYS = 30
BAD_CURSOR = "is not a cursor this API issued for this list"


def to_target(m: NotifyTargetModel) -> Target:
    return Target(id=m.id, owner=m.owner, name=m.name, kind=m.target_kind, display=m.display,
                  events=sorted(m.events or []), enabled=bool(m.enabled), has_secret=bool(m.has_secret),
                  header_names=[str(h) for h in m.header_names or []], created_at=int(m.created_at),
                  updated_at=int(m.updated_at), sealed=m.sealed)


def to_delivery(m: NotifyDeliveryModel) -> Delivery:
    return Delivery(id=m.id, owner=m.owner, target_id=m.target_id, target_name=m.target_name, event=m.event,
                    title=m.title, status=DeliveryStatus(m.status), attempts=int(m.attempts or 0),
                    created_at=int(m.created_at), updated_at=int(m.updated_at), last_error=m.last_error,
                    response=m.response, delivered_at=int(m.delivered_at) if m.delivered_at else None)


class TargetStore:
    def save(self, t: Target, seen_updated_at: int | None = None) -> bool:
        """Write the target (new, or unchanged since ``seen_updated_at``); False if it changed."""
        model = NotifyTargetModel(
            t.id, owner=t.owner, name=t.name, target_kind=t.kind, display=t.display, sealed=t.sealed,
            has_secret=t.has_secret, header_names=t.header_names, events=set(t.events) or None, enabled=t.enabled,
            created_key=f"{t.created_at:013d}#{t.id}", created_at=t.created_at, updated_at=t.updated_at,
        )
        return save_if(model, NotifyTargetModel.id.does_not_exist() if seen_updated_at is None
                       else NotifyTargetModel.updated_at == seen_updated_at)

    def find(self, target_id: str) -> Target | None:
        try:
            return to_target(NotifyTargetModel.get(target_id, consistent_read=True))
        except DoesNotExist:
            return None

    def owned_by(self, owner: str) -> list[Target]:
        return [to_target(cast(NotifyTargetModel, m))
                for m in NotifyTargetModel.by_owner.query(owner, scan_index_forward=False)]

    def remove(self, target_id: str) -> bool:
        try:
            NotifyTargetModel(target_id).delete(condition=NotifyTargetModel.id.exists())
        except DeleteError as exc:
            if condition_failed(exc):
                return False
            raise
        return True


class DeliveryStore:
    def open(self, d: Delivery) -> bool:
        """Record a new delivery; False if one with this id exists (a retried stream batch)."""
        model = NotifyDeliveryModel(
            d.id, owner=d.owner, target_id=d.target_id, target_name=d.target_name, event=d.event, title=d.title,
            status=d.status.value, attempts=d.attempts, created_key=f"{d.created_at:013d}#{d.id}",
            created_at=d.created_at, updated_at=d.updated_at,
            expires=datetime.fromtimestamp(d.created_at / 1000 + DELIVERY_RETENTION_DAYS * 86400, tz=UTC),
        )
        return save_if(model, NotifyDeliveryModel.id.does_not_exist())

    def find(self, delivery_id: str) -> Delivery | None:
        try:
            return to_delivery(NotifyDeliveryModel.get(delivery_id, consistent_read=True))
        except DoesNotExist:
            return None

    def attempted(self, delivery_id: str, attempt: int, status: DeliveryStatus, now_ms: int,
                  error: str | None, response: str | None) -> bool:
        """Record attempt number ``attempt`` (only once: a duplicate SQS delivery of the same
        attempt finds ``attempts`` moved on and records nothing)."""
        actions: list[Any] = [NotifyDeliveryModel.status.set(status.value), NotifyDeliveryModel.attempts.set(attempt),
                              NotifyDeliveryModel.updated_at.set(now_ms)]
        actions.append(NotifyDeliveryModel.last_error.set(error) if error else NotifyDeliveryModel.last_error.remove())
        if response:
            actions.append(NotifyDeliveryModel.response.set(response))
        if status == DeliveryStatus.DELIVERED:
            actions.append(NotifyDeliveryModel.delivered_at.set(now_ms))
        return update_if(NotifyDeliveryModel(delivery_id), actions, NotifyDeliveryModel.attempts == attempt - 1)

    def page(self, owner: str | None, *, status: str | None, target_id: str | None, event: str | None,
             since: int | None, per_page: int, cursor: str | None) -> tuple[list[Delivery], int, str | None]:
        """Deliveries newest first: one owner's (by-owner) or everyone's (by-created)."""
        key_cond = NotifyDeliveryModel.created_key >= f"{since or 0:013d}"
        filt: Condition | None = None
        for attr, value in ((NotifyDeliveryModel.status, status), (NotifyDeliveryModel.target_id, target_id),
                            (NotifyDeliveryModel.event, event)):
            if value is not None:
                filt = attr == value if filt is None else filt & (attr == value)
        index: Any = NotifyDeliveryModel.by_owner if owner is not None else NotifyDeliveryModel.by_created
        hash_key = owner if owner is not None else "delivery"
        start = None
        if cursor:
            try:
                start = cursors.unpack(cursor)
            except ValueError:
                raise ValueError(BAD_CURSOR) from None
            if not isinstance(start, dict):
                raise ValueError(BAD_CURSOR)
        result = index.query(hash_key, key_cond, filter_condition=filt, scan_index_forward=False, limit=per_page,
                             last_evaluated_key=start, page_size=max(per_page, 50))
        items = [to_delivery(m) for m in result]
        last = result.last_evaluated_key if len(items) >= per_page else None
        total = int(index.count(hash_key, key_cond, filter_condition=filt))
        return items, total, cursors.pack(last) if last else None


def control_table_material() -> str:
    """The local stage's sealing key: generated once into the control table."""
    try:
        data = ControlModel.get(KEY_ITEM, consistent_read=True).data
        if isinstance(data, dict) and isinstance(data.get("key"), str):
            return str(data["key"])
    except DoesNotExist:
        pass
    item = ControlModel(KEY_ITEM, data={"key": secrets.token_urlsafe(48)})
    try:
        item.save(condition=ControlModel.pk.does_not_exist())
        log.info("generated this stage's notification key (control table)")
    except PutError:
        pass  # another process made it first
    return str(ControlModel.get(KEY_ITEM, consistent_read=True).data["key"])
