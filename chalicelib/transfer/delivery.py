"""A work message as the worker received it, and the heartbeat that keeps it invisible to
other workers while this one is still on it."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from .context import INVOCATION_SECONDS
from .ports import Queue

log = logging.getLogger("haul.transfer")


@dataclass
class Delivery:
    """One work message as the worker received it."""

    body: dict[str, Any]
    receipt_handle: str | None = None
    receive_count: int = 1
    # Seconds this invocation has left when the message arrives (Lambda's context says), so
    # a stream, which cannot resume in another, knows when it must have finished.
    remaining: float = INVOCATION_SECONDS


class Heartbeat:
    """Keeps a message invisible to other workers while this one is still working on it."""

    def __init__(self, queue: Queue, receipt: str | None, visibility: int) -> None:
        self._queue = queue
        self._receipt = receipt
        self._visibility = visibility
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeat:
        if self._receipt:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self._visibility / 3)):
            try:
                self._queue.extend(self._receipt or "", self._visibility)
            except (ClientError, BotoCoreError) as exc:
                log.warning("could not extend a message's visibility: %s", exc)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
