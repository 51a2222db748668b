"""Personal API keys in DynamoDB (chalicelib/auth/ports.py ``KeyRecords``; see ApiKeyModel)."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from ..auth.ports import ApiKey
from .conditions import condition_failed
from .models import ApiKeyModel


def _key(item: ApiKeyModel) -> ApiKey:
    return ApiKey(
        id=item.id,
        user_id=item.user_id,
        username=item.username,
        name=item.name,
        secret_hash=item.secret_hash,
        created_at=int(item.created_at),
        last_used_at=int(item.last_used_at) if item.last_used_at is not None else None,
        expires=int(item.expires.timestamp()) if item.expires else None,
    )


class DynamoApiKeys:
    def create(self, key: ApiKey) -> None:
        ApiKeyModel(
            key.id,
            user_id=key.user_id,
            username=key.username,
            name=key.name,
            secret_hash=key.secret_hash,
            created_key=f"{key.created_at:013d}#{key.id}",
            created_at=key.created_at,
            expires=datetime.fromtimestamp(key.expires, tz=UTC) if key.expires is not None else None,
        ).save(condition=ApiKeyModel.id.does_not_exist())

    def get(self, key_id: str) -> ApiKey | None:
        try:
            return _key(ApiKeyModel.get(key_id, consistent_read=True))
        except ApiKeyModel.DoesNotExist:
            return None

    def of_user(self, user_id: str) -> list[ApiKey]:
        return [_key(item) for item in ApiKeyModel.by_user.query(user_id)]

    def count(self, user_id: str) -> int:
        return int(ApiKeyModel.by_user.count(user_id))

    def touch(self, key_id: str, now_ms: int) -> bool:
        try:
            ApiKeyModel(key_id).update(
                actions=[ApiKeyModel.last_used_at.set(now_ms)], condition=ApiKeyModel.id.exists()
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise
        return True

    def delete(self, key_id: str) -> None:
        ApiKeyModel(key_id).delete()
