"""No endless task (issue #11, item 3): how often a download may start over, and how long a
stream of an origin without byte ranges may run.

Every kind of restart counts against one budget (the setting ``retry.max_restarts``): the
source changed under a ranged download, a stream was interrupted (an origin without ranges
restarts from zero), S3 expired the unfinished upload, the download stalled. A retry by the
user starts the count again.

A stream cannot resume, so it must end within one worker invocation (Lambda's 15 minutes):
another invocation would only start it over. :func:`stream_verdict` says when to give up,
with a reason a person can read: at the invocation's end (less a margin to store the last
part), or earlier when the origin announced a size that, at the speed so far, plainly cannot
arrive in time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# The share of an invocation's time kept back for storing the last part and finishing.
MARGIN_SHARE = 0.1
MARGIN_MAX_SECONDS = 60.0
# A stream with a known size gives up early only after this share of its time has passed
# (speeds ramp up), and only when the projection overshoots by this factor.
EARLY_AFTER_SHARE = 0.2
EARLY_OVERSHOOT = 1.5


class Restart(StrEnum):
    SOURCE_CHANGED = "source-changed"
    STREAM_INTERRUPTED = "stream-interrupted"
    UPLOAD_EXPIRED = "upload-expired"
    STALLED = "stalled"


_GAVE_UP = {
    Restart.SOURCE_CHANGED: "the source kept changing during the download",
    Restart.STREAM_INTERRUPTED: (
        "the stream kept being interrupted (the origin does not serve byte ranges, so every attempt "
        "starts from zero)"
    ),
    Restart.UPLOAD_EXPIRED: "the unfinished upload kept expiring in S3",
    Restart.STALLED: "the download kept stalling (no progress for the stall timeout)",
}


@dataclass(frozen=True)
class RestartDecision:
    allowed: bool
    # The task's note when allowed; its error when not.
    message: str


def decide_restart(kind: Restart, restarts: int, limit: int, detail: str) -> RestartDecision:
    """Whether a task that has started over ``restarts`` times may do so once more."""
    if restarts < limit:
        return RestartDecision(True, detail)
    times = "once" if restarts == 1 else f"{restarts} times"
    return RestartDecision(
        False, f"{_GAVE_UP[kind]}: gave up after starting over {times} (retry.max_restarts = {limit}); last: {detail}"
    )


def stream_seconds(remaining: float) -> float:
    """Seconds a stream may read when its invocation has ``remaining`` seconds left."""
    return max(0.0, remaining - min(MARGIN_MAX_SECONDS, remaining * MARGIN_SHARE))


def _size(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def stream_verdict(elapsed: float, allowed: float, moved: int, size: int | None) -> str | None:
    """None while a stream may go on; else why it fails (``moved`` bytes read in ``elapsed``
    seconds of the ``allowed``; ``size``: what the origin announced, if anything)."""
    preface = "the origin does not serve byte ranges, so the file must arrive in one worker invocation, and "
    if elapsed >= allowed:
        of = f" of {_size(size)}" if size else ""
        why = "" if size else " (the origin announced no size: its body may never end)"
        return (f"{preface}only {_size(moved)}{of} arrived in the {allowed:.0f} s one invocation may stream{why}")
    if size and moved and elapsed >= allowed * EARLY_AFTER_SHARE:
        projected = elapsed * size / moved
        if projected > allowed * EARLY_OVERSHOOT:
            speed = moved / elapsed
            return (f"{preface}at {_size(speed)}/s its {_size(size)} would take about {projected:.0f} s, "
                    f"more than the {allowed:.0f} s one invocation may stream")
    return None
