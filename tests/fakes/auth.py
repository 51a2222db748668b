"""The accounts side's stores in memory (chalicelib/auth/ports.py). Held to the DynamoDB
implementations by tests/functional/test_auth_store_contract.py."""

from __future__ import annotations

import threading
from dataclasses import dataclass


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
