"""Login sessions in DynamoDB (chalicelib/auth/ports.py ``SessionRecords``; see SessionModel):
each write conditional, the rotation of a refresh secret one UpdateItem."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from ..auth.ports import LoginSession, StoreUnavailable
from .conditions import condition_failed
from .models import SessionModel


def to_session(item: SessionModel) -> LoginSession:
    return LoginSession(
        id=item.id,
        user_id=item.user_id,
        username=item.username,
        current=item.current,
        created_at=int(item.created_at),
        expires=int(item.expires.timestamp()),
        used=frozenset(item.used or ()),
        revoked=bool(item.revoked),
    )


class DynamoSessions:
    def create(self, session: LoginSession) -> None:
        SessionModel(
            session.id,
            user_id=session.user_id,
            username=session.username,
            current=session.current,
            created_at=session.created_at,
            expires=datetime.fromtimestamp(session.expires, tz=UTC),
        ).save(condition=SessionModel.id.does_not_exist())

    def get(self, session_id: str) -> LoginSession | None:
        try:
            return to_session(SessionModel.get(session_id, consistent_read=True))
        except SessionModel.DoesNotExist:
            return None

    def rotate(self, session_id: str, presented: str, new_current: str, now_ms: int) -> bool:
        try:
            SessionModel(session_id).update(
                actions=[
                    SessionModel.current.set(new_current),
                    SessionModel.used.add({presented}),
                    SessionModel.rotated_at.set(now_ms),
                ],
                condition=(SessionModel.current == presented) & (SessionModel.revoked == False),  # noqa: E712
            )
        except UpdateError as exc:
            if condition_failed(exc):
                return False
            raise StoreUnavailable(str(exc)) from exc
        return True

    def revoke(self, session_id: str, reason: str) -> None:
        try:
            SessionModel(session_id).update(
                actions=[SessionModel.revoked.set(True), SessionModel.revoked_reason.set(reason)],
                condition=SessionModel.id.exists(),
            )
        except UpdateError as exc:
            if not condition_failed(exc):
                raise StoreUnavailable(str(exc)) from exc
