"""Retry policy: exponential backoff with full jitter, honouring ``Retry-After``."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from dataclasses import dataclass

# SQS cannot delay a message for longer than 15 minutes.
MAX_DELAY = 900.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base: float = 1.0
    cap: float = 120.0

    def exhausted(self, attempt: int) -> bool:
        """Whether ``attempt`` (1-based, the one that just failed) was the last allowed."""
        return attempt >= self.max_attempts

    def delay(
        self, attempt: int, retry_after: float | None = None, rand: Callable[[], float] = lambda: 1.0
    ) -> float:
        """Seconds to wait before attempt ``attempt + 1``.

        Full jitter (a uniform draw up to ``base * 2**(attempt-1)``, capped), never less than
        what the origin asked for with Retry-After, never more than SQS can delay.
        """
        # The exponent is bounded: past 2**64 the cap has long won, and a larger power
        # overflows float arithmetic.
        ceiling = min(self.cap, self.base * 2 ** min(max(0, attempt - 1), 64))
        wait = ceiling * rand()
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(max(wait, 0.0), MAX_DELAY)


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not str.isdigit alone: it accepts "²", float() does not
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)
