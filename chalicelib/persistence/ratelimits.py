"""The rate limits' counters in DynamoDB (chalicelib/auth/ports.py ``RateCounters``): one item
per counter in the rate-limit table, its ``expires`` the table's TTL attribute; every count is
an atomic ADD or a conditional write, so all processes share them."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from .conditions import condition_failed
from .models import RateLimitModel


def _when(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


class DynamoRateCounters:
    def add(self, key: str, cost: int, expires_s: int) -> int:
        item = RateLimitModel(key)
        item.update(actions=[RateLimitModel.hits.add(cost), RateLimitModel.expires.set(_when(expires_s))])
        return int(item.hits)

    def add_if_open(self, key: str, open_after_s: float) -> int | None:
        item = RateLimitModel(key)
        try:
            item.update(actions=[RateLimitModel.hits.add(1)], condition=RateLimitModel.expires > _when(open_after_s))
        except UpdateError as exc:
            if condition_failed(exc):
                return None
            raise
        return int(item.hits)

    def open(self, key: str, expires_s: int, open_after_s: float) -> bool:
        item = RateLimitModel(key, hits=1, expires=_when(expires_s))
        try:
            item.save(condition=RateLimitModel.key.does_not_exist() | (RateLimitModel.expires <= _when(open_after_s)))
        except PutError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def take_back(self, key: str) -> None:
        try:
            RateLimitModel(key).update(actions=[RateLimitModel.hits.add(-1)], condition=RateLimitModel.hits > 0)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise

    def put(self, key: str, count: int, expires_s: int) -> None:
        RateLimitModel(key, hits=count, expires=_when(expires_s)).save()

    def expiry(self, key: str) -> float | None:
        try:
            return float(RateLimitModel.get(key, consistent_read=True).expires.timestamp())
        except DoesNotExist:
            return None

    def drop(self, key: str) -> None:
        RateLimitModel(key).delete()
