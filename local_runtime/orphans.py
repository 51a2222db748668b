"""A worker process never outlives its runtime, however the runtime died.

Two guards, both armed at the worker's start:
- on Linux, the parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``): the kernel sends the
  worker SIGTERM the moment the runtime's process is gone (SIGKILL, a crash, the OOM killer);
- everywhere, a thread that watches the parent's pid (a worker whose parent died is adopted
  by another process, so ``os.getppid()`` changes) four times a second.

Either way the worker stops taking work, and if the work in hand is not done within
``grace`` seconds it exits anyway: its messages come back to the queue after their
visibility timeout, for the next runtime's workers.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

log = logging.getLogger("haul.local.worker")

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel for ``sig`` when the parent dies (Linux only); True if armed."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def parent_alive(parent: int) -> bool:
    """False once ``parent`` is no longer this process's parent (it died; we were adopted)."""
    return os.getppid() == parent


def exit_if_orphaned(parent: int) -> None:
    """In a SIGTERM handler: the parent-death signal (the runtime is gone) ends the worker at
    once, no grace (what it held comes back to the queue); a SIGTERM from a living runtime
    returns, to stop in order."""
    if parent and not parent_alive(parent):
        os._exit(3)


def guard(parent: int, on_orphaned: Callable[[], None], grace: float = 1.0, interval: float = 0.25) -> None:
    """Arm both guards for a worker whose runtime is ``parent``. ``on_orphaned`` asks the worker
    to stop; after ``grace`` seconds the process exits regardless."""
    set_parent_death_signal()

    def orphaned() -> None:
        log.warning("worker %d: the runtime (pid %d) is gone; stopping", os.getpid(), parent)
        on_orphaned()
        timer = threading.Timer(grace, lambda: os._exit(3))
        timer.daemon = True  # a worker that finishes sooner exits sooner
        timer.start()

    def watch() -> None:
        while parent_alive(parent):
            if _stop.wait(interval):
                return
        orphaned()

    _stop = threading.Event()
    if not parent_alive(parent):  # died before the signal was armed
        orphaned()
        return
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
