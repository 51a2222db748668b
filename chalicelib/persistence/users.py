"""Accounts in DynamoDB (chalicelib/auth/ports.py ``UserRecords``; see UserModel), and the
roster of enabled admins, one item of the control table.

The roster (``auth#admins``) holds the usernames of the enabled admins. Every change that
makes or unmakes an enabled admin (setup, creating an admin, a role change, disabling,
enabling, deleting) writes the user and the roster in one transaction. Leaving the roster is
conditional on the user being in it and on someone else staying, so two admins demoting each
other at the same moment cannot both succeed: DynamoDB serialises the two transactions on the
roster item, and the second finds one member left.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from ..auth.admins import is_enabled_admin
from ..auth.ports import AdminChangeRefused, LoginSession, StoreBusy, User, UserChange
from .conditions import condition_failed, failed_conditions
from .models import ControlModel, SessionModel, UserModel
from .sessions import to_session

ROSTER = "auth#admins"


def to_user(item: UserModel) -> User:
    return User(
        id=item.id,
        username=item.username,
        role=item.role,
        password_hash=item.password_hash,
        disabled=bool(item.disabled),
        created_at=int(item.created_at),
        updated_at=int(item.updated_at),
        last_login=int(item.last_login) if item.last_login is not None else None,
        valid_after=int(item.valid_after or 0),
    )


def _item(user: User) -> UserModel:
    return UserModel(
        user.username,
        id=user.id,
        role=user.role,
        password_hash=user.password_hash,
        disabled=user.disabled,
        kind="user",
        created_key=f"{user.created_at:013d}#{user.id}",
        created_at=user.created_at,
        updated_at=user.updated_at,
        last_login=user.last_login,
        valid_after=user.valid_after,
    )


def _actions(change: UserChange) -> list[Action]:
    out: list[Action] = []
    for name in ("updated_at", "role", "disabled", "password_hash", "valid_after", "last_login"):
        value = getattr(change, name)
        if value is not None:
            out.append(getattr(UserModel, name).set(value))
    return out


def _as_read(user: User) -> Condition:
    return (UserModel.id == user.id) & (UserModel.role == user.role) & (UserModel.disabled == bool(user.disabled))


class DynamoUsers:
    def get(self, username: str) -> User | None:
        try:
            return to_user(UserModel.get(username, consistent_read=True))
        except UserModel.DoesNotExist:
            return None

    def username_of(self, user_id: str) -> str | None:
        found = next(iter(UserModel.by_id.query(user_id, limit=1)), None)
        return found.username if found is not None else None

    def any(self) -> bool:
        return next(iter(UserModel.by_created.query("user", limit=1)), None) is not None

    def count(self) -> int:
        return int(UserModel.by_created.count("user"))

    def page(self, limit: int, after: dict[str, Any] | None) -> tuple[list[User], dict[str, Any] | None]:
        result = UserModel.by_created.query("user", limit=limit, last_evaluated_key=after)
        users = [to_user(item) for item in result]
        return users, result.last_evaluated_key

    def session_and_user(self, session_id: str, username: str) -> tuple[LoginSession | None, User | None]:
        """One BatchGetItem over the two tables, read consistently: every authenticated request
        makes this read, and one round trip costs half of two."""
        client = SessionModel._get_connection().connection.client
        pending: dict[str, Any] = {
            SessionModel.Meta.table_name: {"Keys": [{"id": {"S": session_id}}], "ConsistentRead": True},
            UserModel.Meta.table_name: {"Keys": [{"username": {"S": username}}], "ConsistentRead": True},
        }
        session: LoginSession | None = None
        user: User | None = None
        for attempt in range(5):
            answer = client.batch_get_item(RequestItems=pending)
            for item in answer.get("Responses", {}).get(SessionModel.Meta.table_name, []):
                session = to_session(SessionModel.from_raw_data(item))
            for item in answer.get("Responses", {}).get(UserModel.Meta.table_name, []):
                user = to_user(UserModel.from_raw_data(item))
            pending = answer.get("UnprocessedKeys") or {}
            if not pending:
                return session, user
            time.sleep(0.05 * 2**attempt)  # DynamoDB hands back keys it could not read yet: ask again
        raise StoreBusy("the accounts table is busy")

    # -- writes ----------------------------------------------------------------------------
    def create(self, user: User, admin: bool) -> bool:
        item = _item(user)
        try:
            if admin:
                self._ensure_roster()
                with _transaction() as tx:
                    tx.save(item, condition=UserModel.username.does_not_exist())
                    _join(tx, user.username)
            else:
                item.save(condition=UserModel.username.does_not_exist())
        except (PutError, TransactWriteError):
            return False
        return True

    def create_first(self, user: User, setup_item: str) -> bool:
        try:
            self._ensure_roster()
            with _transaction() as tx:
                tx.save(
                    ControlModel(setup_item, updated_at=user.created_at), condition=ControlModel.pk.does_not_exist()
                )
                tx.save(_item(user), condition=UserModel.username.does_not_exist())
                _join(tx, user.username)
        except TransactWriteError:
            return False
        return True

    def update(self, user: User, change: UserChange) -> User | None:
        item = UserModel(user.username)
        try:
            item.update(actions=_actions(change), condition=UserModel.id == user.id)
        except UpdateError:
            return None
        return to_user(item)

    def update_admin(self, user: User, change: UserChange, joins: bool) -> None:
        actions = _actions(change)
        self._admin_change(
            user, lambda tx: tx.update(UserModel(user.username), actions=actions, condition=_as_read(user)), joins
        )

    def delete(self, user: User) -> bool:
        try:
            UserModel(user.username).delete(condition=UserModel.id == user.id)
        except DeleteError:
            return False
        return True

    def delete_admin(self, user: User) -> None:
        self._admin_change(user, lambda tx: tx.delete(UserModel(user.username), condition=_as_read(user)), False)

    def _admin_change(self, user: User, write: Callable[[TransactWrite], Any], joins: bool) -> None:
        self._ensure_roster()
        try:
            with _transaction() as tx:
                write(tx)
                (_join if joins else _leave)(tx, user.username)
        except TransactWriteError as exc:
            failed = failed_conditions(exc)
            if len(failed) > 1 and failed[1]:
                raise AdminChangeRefused("last_admin") from None
            if failed and failed[0]:
                raise AdminChangeRefused("changed") from None
            raise AdminChangeRefused("unavailable") from None

    @staticmethod
    def _ensure_roster() -> None:
        """Make the roster from the users when there is none yet (a stage older than it)."""
        try:
            ControlModel.get(ROSTER, consistent_read=True)
            return
        except ControlModel.DoesNotExist:
            pass
        admins = {u.username for u in UserModel.by_created.query("user") if is_enabled_admin(u.role, u.disabled)}
        try:
            ControlModel(ROSTER, members=admins or None).save(condition=ControlModel.pk.does_not_exist())
        except PutError as exc:
            if not condition_failed(exc):
                raise


def _transaction() -> TransactWrite:
    return TransactWrite(connection=Connection(region=UserModel.Meta.region))


def _join(tx: Any, username: str) -> None:
    """In transaction ``tx``: ``username`` is an enabled admin now."""
    tx.update(ControlModel(ROSTER), actions=[ControlModel.members.add({username})])


def _leave(tx: Any, username: str) -> None:
    """In transaction ``tx``: ``username`` stops being an enabled admin, if another remains."""
    tx.update(
        ControlModel(ROSTER),
        actions=[ControlModel.members.delete({username})],
        condition=ControlModel.members.contains(username) & (size(ControlModel.members) > 1),
    )
