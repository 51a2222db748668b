"""What the accounts side needs from storage, named for what it does.

The DynamoDB implementations live in chalicelib/persistence/ (``ratelimits.py``), the
in-memory fakes in tests/fakes/auth.py, and a contract suite
(tests/functional/test_auth_store_contract.py) holds the two together. The composition root
(chalicelib/container.py) builds the implementations and passes them in.
"""

from __future__ import annotations

from typing import Protocol


class RateCounters(Protocol):
    """Counters that every process shares, each with an expiry (epoch seconds; the table's TTL
    removes them some time after it)."""

    def add(self, key: str, cost: int, expires_s: int) -> int:
        """Add ``cost`` to ``key`` (made when missing) and set its expiry; the count now."""

    def add_if_open(self, key: str, open_after_s: float) -> int | None:
        """Add one to ``key`` if it exists and expires after ``open_after_s``; the count now,
        or None (nothing added) when it does not."""

    def open(self, key: str, expires_s: int, open_after_s: float) -> bool:
        """Start ``key`` at 1 with this expiry unless it exists and expires after
        ``open_after_s``; False (nothing written) when it does."""

    def take_back(self, key: str) -> None:
        """Subtract one from ``key`` if it is above zero (nothing otherwise)."""

    def put(self, key: str, count: int, expires_s: int) -> None:
        """Write ``key`` as ``count`` with this expiry, whatever was there."""

    def expiry(self, key: str) -> float | None:
        """When ``key`` expires (epoch seconds), None when there is no such counter."""

    def drop(self, key: str) -> None:
        """Remove ``key`` (nothing when there is none)."""
