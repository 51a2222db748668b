"""The jobs' per-minute tick (deployed function ``job_tick``): queue one run per due slot
(chalicelib/jobs/)."""

from __future__ import annotations

from chalicelib.container import services


def tick() -> dict[str, int]:
    """The per-minute tick: queue one run per due slot."""
    return services().jobs.tick()
