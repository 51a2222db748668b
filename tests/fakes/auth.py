"""The accounts side's stores in memory (chalicelib/auth/ports.py). Held to the DynamoDB
implementations by tests/functional/test_auth_store_contract.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.auth.admins import is_enabled_admin
from chalicelib.auth.ports import AdminChangeRefused, ApiKey, LoginSession, StoreUnavailable, User, UserChange


@dataclass
class Counter:
    count: int
    expires_s: float


class FakeRateCounters:
    """Counters under one lock: each call checked and applied at once, like one conditional write."""

    def __init__(self) -> None:
        self.items: dict[str, Counter] = {}
        self._lock = threading.Lock()

    def add(self, key: str, cost: int, expires_s: int) -> int:
        with self._lock:
            item = self.items.setdefault(key, Counter(0, expires_s))
            item.count += cost
            item.expires_s = expires_s
            return item.count

    def add_if_open(self, key: str, open_after_s: float) -> int | None:
        with self._lock:
            item = self.items.get(key)
            if item is None or not item.expires_s > open_after_s:
                return None
            item.count += 1
            return item.count

    def open(self, key: str, expires_s: int, open_after_s: float) -> bool:
        with self._lock:
            item = self.items.get(key)
            if item is not None and item.expires_s > open_after_s:
                return False
            self.items[key] = Counter(1, expires_s)
            return True

    def take_back(self, key: str) -> None:
        with self._lock:
            item = self.items.get(key)
            if item is not None and item.count > 0:
                item.count -= 1

    def put(self, key: str, count: int, expires_s: int) -> None:
        with self._lock:
            self.items[key] = Counter(count, expires_s)

    def expiry(self, key: str) -> float | None:
        with self._lock:
            item = self.items.get(key)
            return None if item is None else item.expires_s

    def drop(self, key: str) -> None:
        with self._lock:
            self.items.pop(key, None)


class FakeSessions:
    def __init__(self) -> None:
        self.items: dict[str, LoginSession] = {}
        self.reasons: dict[str, str] = {}
        self.fail_writes = False  # the store does not answer
        self._lock = threading.Lock()

    def create(self, session: LoginSession) -> None:
        with self._lock:
            assert session.id not in self.items
            self.items[session.id] = session

    def get(self, session_id: str) -> LoginSession | None:
        with self._lock:
            return self.items.get(session_id)

    def rotate(self, session_id: str, presented: str, new_current: str, now_ms: int) -> bool:
        with self._lock:
            if self.fail_writes:
                raise StoreUnavailable("the fake store is down")
            found = self.items.get(session_id)
            if found is None or found.current != presented or found.revoked:
                return False
            self.items[session_id] = replace(found, current=new_current, used=found.used | {presented})
            return True

    def revoke(self, session_id: str, reason: str) -> None:
        with self._lock:
            if self.fail_writes:
                raise StoreUnavailable("the fake store is down")
            found = self.items.get(session_id)
            if found is not None:
                self.items[session_id] = replace(found, revoked=True)
                self.reasons[session_id] = reason


class FakeApiKeys:
    def __init__(self) -> None:
        self.items: dict[str, ApiKey] = {}
        self._lock = threading.Lock()

    def create(self, key: ApiKey) -> None:
        with self._lock:
            assert key.id not in self.items
            self.items[key.id] = key

    def get(self, key_id: str) -> ApiKey | None:
        with self._lock:
            return self.items.get(key_id)

    def of_user(self, user_id: str) -> list[ApiKey]:
        with self._lock:
            return sorted((k for k in self.items.values() if k.user_id == user_id), key=lambda k: (k.created_at, k.id))

    def count(self, user_id: str) -> int:
        return len(self.of_user(user_id))

    def touch(self, key_id: str, now_ms: int) -> bool:
        with self._lock:
            found = self.items.get(key_id)
            if found is None:
                return False
            self.items[key_id] = replace(found, last_used_at=now_ms)
            return True

    def delete(self, key_id: str) -> None:
        with self._lock:
            self.items.pop(key_id, None)


class FakeSigningKey:
    def __init__(self) -> None:
        self.data: Any | None = None
        self._lock = threading.Lock()

    def load(self) -> Any | None:
        with self._lock:
            return self.data

    def create(self, data: dict[str, Any]) -> bool:
        with self._lock:
            if self.data is not None:
                return False
            self.data = data
            return True


def _page_key(user: User) -> dict[str, Any]:
    """A page key shaped as DynamoDB's (the service's cursors round-trip it)."""
    created_key = f"{user.created_at:013d}#{user.id}"
    return {"username": {"S": user.username}, "kind": {"S": "user"}, "created_key": {"S": created_key}}


class FakeUsers:
    """Users and the roster of enabled admins, each write checked and applied under one lock."""

    def __init__(self, sessions: FakeSessions | None = None) -> None:
        self.items: dict[str, User] = {}
        self.roster: set[str] = set()
        self.control: set[str] = set()
        self.sessions = sessions or FakeSessions()
        self.unavailable = False  # transactions fail as if the store did not answer
        self._lock = threading.RLock()

    def get(self, username: str) -> User | None:
        with self._lock:
            return self.items.get(username)

    def username_of(self, user_id: str) -> str | None:
        with self._lock:
            return next((u.username for u in self.items.values() if u.id == user_id), None)

    def any(self) -> bool:
        return bool(self.items)

    def count(self) -> int:
        return len(self.items)

    def _ordered(self) -> list[User]:
        return sorted(self.items.values(), key=lambda u: (u.created_at, u.id))

    def page(self, limit: int, after: dict[str, Any] | None) -> tuple[list[User], dict[str, Any] | None]:
        with self._lock:
            users = self._ordered()
            if after is not None:
                start = after["created_key"]["S"]
                users = [u for u in users if f"{u.created_at:013d}#{u.id}" > start]
            page = users[:limit]
            return page, (_page_key(page[-1]) if len(page) == limit else None)

    def session_and_user(self, session_id: str, username: str) -> tuple[LoginSession | None, User | None]:
        return self.sessions.get(session_id), self.get(username)

    def create(self, user: User, admin: bool) -> bool:
        with self._lock:
            if user.username in self.items:
                return False
            self.items[user.username] = user
            if admin and is_enabled_admin(user.role, user.disabled):
                self.roster.add(user.username)
            return True

    def create_first(self, user: User, setup_item: str) -> bool:
        with self._lock:
            if setup_item in self.control or user.username in self.items:
                return False
            self.control.add(setup_item)
            self.items[user.username] = user
            self.roster.add(user.username)
            return True

    def update(self, user: User, change: UserChange) -> User | None:
        with self._lock:
            found = self.items.get(user.username)
            if found is None or found.id != user.id:
                return None
            values = {k: v for k, v in vars(change).items() if v is not None}
            self.items[user.username] = replace(found, **values)
            return self.items[user.username]

    def _admin_change(self, user: User, joins: bool, apply: Callable[[], object]) -> None:
        found = self.items.get(user.username)
        as_read = found is not None and (found.id, found.role, found.disabled) == (user.id, user.role, user.disabled)
        leaves_ok = joins or (user.username in self.roster and len(self.roster) > 1)
        if self.unavailable:
            raise AdminChangeRefused("unavailable")
        if not leaves_ok:
            raise AdminChangeRefused("last_admin")
        if not as_read:
            raise AdminChangeRefused("changed")
        apply()
        (self.roster.add if joins else self.roster.discard)(user.username)

    def update_admin(self, user: User, change: UserChange, joins: bool) -> None:
        with self._lock:
            values = {k: v for k, v in vars(change).items() if v is not None}
            self._admin_change(
                user, joins, lambda: self.items.__setitem__(user.username, replace(self.items[user.username], **values))
            )

    def delete(self, user: User) -> bool:
        with self._lock:
            found = self.items.get(user.username)
            if found is None or found.id != user.id:
                return False
            del self.items[user.username]
            return True

    def delete_admin(self, user: User) -> None:
        with self._lock:
            self._admin_change(user, False, lambda: self.items.pop(user.username))
