"""When a job runs: cron expressions and intervals in a time zone, and what a missed slot means.

Pure functions, no I/O: every one takes the clock as an argument, so the unit tests use fixed
instants (tests/unit/test_jobs_schedule.py).

- A cron schedule is a classic 5-field expression (minute hour day-of-month month
  day-of-week), parsed and stepped by ``cronsim`` in the job's IANA time zone. Across a DST
  change it behaves like cron (cronie): a daily job whose local time does not exist that
  day (02:30 on a spring-forward night in Europe) runs once at the first instant after the
  gap (03:00); a daily job whose local time happens twice (fall-back) runs once, at the
  first occurrence; a job that runs every N minutes runs at both occurrences, which are
  different instants.
- An interval schedule runs every N seconds (at least 60), anchored on the job's creation
  time, so its slots do not drift with the tick's jitter.

Slots are epoch milliseconds. The tick claims a slot with a conditional write on the job's
``next_run`` (chalicelib/jobs/persistence.py): that write, not this module, makes each slot
run at most once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

MIN_INTERVAL_SECONDS = 60
MAX_INTERVAL_SECONDS = 366 * 86400
# A slot whose time passed more than this long ago when the tick reached it was missed
# (downtime, a disabled tick); within it, a slot is simply due (the tick runs once a minute).
DEFAULT_GRACE_SECONDS = 120


class Misfire(StrEnum):
    RUN_ONCE = "run_once"  # missed slots (however many) make one run now, then the schedule goes on
    SKIP = "skip"  # missed slots are recorded as skipped; the next run is the next slot to come


class BadSchedule(ValueError):
    """A schedule that cannot be used; the message says why (it becomes a 422)."""


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; BadSchedule for anything else."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise BadSchedule(f"{name!r} is not an IANA time zone name such as Europe/Berlin or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise BadSchedule(f"{name!r} is not an IANA time zone name such as Europe/Berlin or UTC") from None


def check_cron(expression: str) -> str:
    """The expression, normalised (single spaces); BadSchedule unless it is 5 valid fields."""
    fields = expression.split()
    if len(fields) != 5:
        raise BadSchedule(f"a cron expression has 5 fields (minute hour day month weekday), not {len(fields)}")
    normal = " ".join(fields)
    try:
        CronSim(normal.upper(), datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        raise BadSchedule(f"not a valid cron expression: {exc}") from None
    return normal


@dataclass(frozen=True)
class Schedule:
    """A cron expression or an interval, in a time zone (intervals ignore it)."""

    cron: str | None = None
    interval_seconds: int | None = None
    timezone: str = "UTC"
    # Interval slots are anchor + k * interval.
    anchor_ms: int = 0

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval_seconds is None):
            raise BadSchedule("a schedule is either a cron expression or an interval, one of them")
        if self.interval_seconds is not None and not (
            MIN_INTERVAL_SECONDS <= self.interval_seconds <= MAX_INTERVAL_SECONDS
        ):
            raise BadSchedule(
                f"an interval is {MIN_INTERVAL_SECONDS} s to {MAX_INTERVAL_SECONDS} s, not {self.interval_seconds}"
            )
        if self.cron is not None:
            object.__setattr__(self, "cron", check_cron(self.cron))
        zone(self.timezone)

    def slots_after(self, after_ms: int) -> Iterator[int]:
        """The slots strictly after ``after_ms``, in order (an endless iterator)."""
        if self.interval_seconds is not None:
            step = self.interval_seconds * 1000
            k = max(0, (after_ms - self.anchor_ms) // step + 1)
            while True:
                yield self.anchor_ms + k * step
                k += 1
        assert self.cron is not None
        start = datetime.fromtimestamp(after_ms / 1000, tz=zone(self.timezone))
        for moment in CronSim(self.cron.upper(), start):
            slot = int(moment.timestamp() * 1000)
            if slot > after_ms:
                yield slot

    def next_after(self, after_ms: int) -> int:
        """The first slot strictly after ``after_ms``."""
        return next(self.slots_after(after_ms))

    def upcoming(self, after_ms: int, count: int = 5) -> list[int]:
        """The next ``count`` slots after ``after_ms`` (the cron helper's preview)."""
        out: list[int] = []
        for slot in self.slots_after(after_ms):
            out.append(slot)
            if len(out) >= count:
                break
        return out


@dataclass(frozen=True)
class Decision:
    """What the tick does with a job whose slot ``slot`` is due at ``now``."""

    slot: int  # the slot claimed (the job's next_run as read)
    run: bool  # whether a run starts for it
    missed: int  # slots that passed without a run (0 when the slot is on time)
    next_slot: int  # the job's next_run after the claim


def decide(schedule: Schedule, slot: int, now_ms: int, misfire: Misfire,
           grace_seconds: int = DEFAULT_GRACE_SECONDS, count_limit: int = 10_000) -> Decision:
    """The tick's decision for a due slot (``slot <= now_ms``).

    On time (within ``grace_seconds``): run it. Late: ``run_once`` runs once for every slot
    missed; ``skip`` runs nothing and the missed slots are counted (up to ``count_limit``).
    Either way the next slot is the first one after ``now_ms``, so a job never runs twice
    to catch up.
    """
    if slot > now_ms:
        raise ValueError("the slot is not due yet")
    next_slot = schedule.next_after(now_ms)
    if now_ms - slot <= grace_seconds * 1000:
        return Decision(slot, True, 0, next_slot)
    missed = 0
    for later in schedule.slots_after(slot - 1):
        if later > now_ms or missed >= count_limit:
            break
        missed += 1
    if misfire == Misfire.RUN_ONCE:
        return Decision(slot, True, max(0, missed - 1), next_slot)
    return Decision(slot, False, missed, next_slot)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local_iso(ms: int, timezone: str) -> str:
    """The instant in the job's own time zone, with its offset (what a person reads)."""
    return datetime.fromtimestamp(ms / 1000, tz=zone(timezone)).isoformat(timespec="seconds")
