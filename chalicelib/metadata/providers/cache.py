"""Provider answers cached in two levels, with the Lambda model in mind.

1. In this process (:class:`MemoryCache`): a bounded LRU kept for at most a few minutes.
   A warm sandbox answers a repeated lookup without any I/O; a cold one starts empty.
2. In DynamoDB (persistence.CacheItems): one item per answer on the rate-limits table,
   compressed, expiring with the table's TTL attribute (``expires``). Every sandbox and
   function of the stage shares it, so a season looked up by smart search is not fetched
   again by smart grab or the NFO writer minutes later in another sandbox. Answers larger
   than :data:`MAX_STORED` compressed are kept in process only (DynamoDB's 400 KB item limit).

Only successful JSON answers are cached; the key is the provider, its base URL, the path
and the query without any credential.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

MAX_STORED = 300 * 1024
MEMORY_SECONDS = 300


class SharedStore(Protocol):
    def load(self, key: str, now: int) -> bytes | None: ...

    def save(self, key: str, blob: bytes, expires: int) -> None: ...


def cache_key(provider: str, url: str, params: dict[str, Any]) -> str:
    canonical = json.dumps([url, sorted((str(k), str(v)) for k, v in params.items())], separators=(",", ":"))
    return f"{provider}#{hashlib.sha256(canonical.encode()).hexdigest()[:40]}"


class MemoryCache:
    def __init__(self, size: int = 256, clock: Callable[[], float] = time.time) -> None:
        self._items: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._size = size
        self._clock = clock
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[0] <= self._clock():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: Any, seconds: float) -> None:
        with self._lock:
            self._items[key] = (self._clock() + seconds, value)
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class ResponseCache:
    """The two levels together; ``hits`` and ``misses`` count lookups (the tests read them)."""

    def __init__(self, shared: SharedStore | None, memory: MemoryCache | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._shared = shared
        self.memory = memory or MemoryCache(clock=clock)
        self._clock = clock
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> Any | None:
        value = self.memory.get(key)
        if value is None and self._shared is not None:
            blob = self._shared.load(key, int(self._clock()))
            if blob is not None:
                try:
                    value = json.loads(zlib.decompress(blob))
                except (zlib.error, ValueError):
                    value = None
                if value is not None:
                    self.memory.put(key, value, MEMORY_SECONDS)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: str, value: Any, seconds: int) -> None:
        if seconds <= 0:
            return
        self.memory.put(key, value, min(seconds, MEMORY_SECONDS))
        if self._shared is None:
            return
        blob = zlib.compress(json.dumps(value, separators=(",", ":")).encode(), 6)
        if len(blob) <= MAX_STORED:
            self._shared.save(key, blob, int(self._clock()) + seconds)
