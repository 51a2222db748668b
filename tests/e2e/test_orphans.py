"""A runtime killed alone (SIGKILL: no chance to stop its workers) leaves no worker behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.support.runtime import RuntimeProcess
from tests.support.wait import wait_for


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody has reaped yet."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.alone  # it times an exit (the 3 s): not beside other tests
def test_workers_exit_when_the_runtime_is_killed() -> None:
    rt = RuntimeProcess("orphans").start()
    workers: list[int] = []
    try:
        workers = rt.worker_pids()
        assert len(workers) == 2, workers
        assert rt.proc is not None
        os.kill(rt.proc.pid, signal.SIGKILL)
        rt.proc.wait(10)
        # The bound: gone 3 s after the runtime's death.
        wait_for(lambda: all(_gone(p) for p in workers), 3.0, 0.05, "the workers to exit")
    finally:
        rt.stop()
        for pid in workers:  # (only if the test failed: do not leave them to the next tests)
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
