"""The accounts side's stores in memory (chalicelib/auth/ports.py). Held to the DynamoDB
implementations by tests/functional/test_auth_store_contract.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Any

from chalicelib.auth.ports import ApiKey, LoginSession, StoreUnavailable


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
