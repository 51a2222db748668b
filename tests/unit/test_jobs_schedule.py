"""Cron and interval schedules, DST and misfire decisions, with fixed clocks (chalicelib/jobs/schedule.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chalicelib.jobs.schedule import BadSchedule, Misfire, Schedule, decide, iso, local_iso

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"


def ms(text: str, tz: str = "UTC") -> int:
    """Epoch ms of a local wall-clock time in ``tz`` (first occurrence when ambiguous)."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).timestamp() * 1000)


def local(slots: list[int], tz: str) -> list[str]:
    return [local_iso(s, tz) for s in slots]


def test_daily_cron_in_a_time_zone_runs_at_local_time() -> None:
    s = Schedule(cron="30 6 * * *", timezone=BERLIN)
    assert local(s.upcoming(ms("2025-01-10T07:00", BERLIN), 3), BERLIN) == [
        "2025-01-11T06:30:00+01:00", "2025-01-12T06:30:00+01:00", "2025-01-13T06:30:00+01:00"]
    # 06:30 in Berlin is 05:30 UTC in winter.
    assert iso(s.next_after(ms("2025-01-10T07:00", BERLIN))) == "2025-01-11T05:30:00Z"


def test_spring_forward_a_time_that_does_not_exist_runs_once_right_after_the_gap() -> None:
    # 2025-03-30: Berlin skips 02:00-03:00.
    s = Schedule(cron="30 2 * * *", timezone=BERLIN)
    assert local(s.upcoming(ms("2025-03-29T12:00", BERLIN), 3), BERLIN) == [
        "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00", "2025-04-01T02:30:00+02:00"]


def test_fall_back_a_daily_time_that_happens_twice_runs_once() -> None:
    # 2025-10-26: Berlin's 02:00-03:00 happens twice.
    s = Schedule(cron="30 2 * * *", timezone=BERLIN)
    runs = s.upcoming(ms("2025-10-25T12:00", BERLIN), 3)
    assert local(runs, BERLIN) == [
        "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00", "2025-10-28T02:30:00+01:00"]
    # 25 hours between the first two (the day is 25 hours long).
    assert runs[1] - runs[0] == 25 * 3600 * 1000


def test_fall_back_a_frequent_job_runs_in_both_hours_at_distinct_instants() -> None:
    s = Schedule(cron="0 * * * *", timezone=NEW_YORK)  # 2025-11-02: New York repeats 01:00-02:00
    runs = s.upcoming(ms("2025-11-02T00:30", NEW_YORK), 4)
    assert [iso(r) for r in runs] == [
        "2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z", "2025-11-02T07:00:00Z", "2025-11-02T08:00:00Z"]
    assert local(runs, NEW_YORK) == [
        "2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00",
        "2025-11-02T03:00:00-05:00"]
    assert len(set(runs)) == 4 and runs == sorted(runs)


def test_weekday_and_step_fields_and_names() -> None:
    s = Schedule(cron="*/15 9-10 * * MON-FRI", timezone="UTC")
    friday_evening = ms("2025-01-10T18:00")
    assert [iso(r) for r in s.upcoming(friday_evening, 3)] == [
        "2025-01-13T09:00:00Z", "2025-01-13T09:15:00Z", "2025-01-13T09:30:00Z"]


def test_next_slot_is_strictly_after_the_instant() -> None:
    s = Schedule(cron="0 * * * *", timezone="UTC")
    on_the_hour = ms("2025-01-10T10:00")
    assert iso(s.next_after(on_the_hour)) == "2025-01-10T11:00:00Z"
    assert iso(s.next_after(on_the_hour - 1)) == "2025-01-10T10:00:00Z"


def test_interval_slots_are_anchored_and_do_not_drift() -> None:
    anchor = ms("2025-01-10T10:00:07")
    s = Schedule(interval_seconds=600, anchor_ms=anchor)
    assert s.upcoming(anchor, 3) == [anchor + 600_000, anchor + 1_200_000, anchor + 1_800_000]
    # Asked late (a tick's jitter), the slots stay on the anchor's grid.
    assert s.next_after(anchor + 1_234_567) == anchor + 1_800_000
    # Intervals ignore DST: a fixed number of seconds.
    across = Schedule(interval_seconds=3600, timezone=BERLIN, anchor_ms=ms("2025-03-30T01:00", BERLIN))
    assert [r - ms("2025-03-30T01:00", BERLIN) for r in across.upcoming(ms("2025-03-30T01:00", BERLIN), 2)] == [
        3_600_000, 7_200_000]


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"cron": "* * * *"}, "5 fields"),
    ({"cron": "* * * * * *"}, "5 fields"),
    ({"cron": "61 * * * *"}, "not a valid cron"),
    ({"cron": "* * 32 * *"}, "not a valid cron"),
    ({"cron": "0 0 * * *", "timezone": "Mars/Olympus"}, "IANA"),
    ({"cron": "0 0 * * *", "timezone": "../../etc/passwd"}, "IANA"),
    ({"interval_seconds": 59}, "60 s"),
    ({}, "one of them"),
    ({"cron": "0 0 * * *", "interval_seconds": 60}, "one of them"),
])
def test_bad_schedules_say_why(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(BadSchedule, match=words):
        Schedule(**kwargs)  # type: ignore[arg-type]


def test_cron_is_normalised() -> None:
    assert Schedule(cron="  0   6 * *  1 ").cron == "0 6 * * 1"


HOURLY = Schedule(cron="0 * * * *", timezone="UTC")
T10 = ms("2025-01-10T10:00")


def test_a_slot_on_time_runs_and_the_next_is_the_following_slot() -> None:
    d = decide(HOURLY, T10, T10 + 20_000, Misfire.SKIP)
    assert (d.run, d.missed, iso(d.next_slot)) == (True, 0, "2025-01-10T11:00:00Z")


def test_missed_slots_run_once_or_are_skipped_and_the_schedule_resumes_after_now() -> None:
    now = ms("2025-01-10T15:20")  # down from before 10:00 to 15:20: 10, 11, 12, 13, 14, 15 missed
    once = decide(HOURLY, T10, now, Misfire.RUN_ONCE)
    assert once.run and once.missed == 5 and iso(once.next_slot) == "2025-01-10T16:00:00Z"
    skip = decide(HOURLY, T10, now, Misfire.SKIP)
    assert not skip.run and skip.missed == 6 and skip.next_slot == once.next_slot


def test_a_late_tick_within_the_grace_is_not_a_misfire() -> None:
    assert decide(HOURLY, T10, T10 + 119_000, Misfire.SKIP).run
    assert not decide(HOURLY, T10, T10 + 121_000, Misfire.SKIP).run


def test_a_slot_in_the_future_is_not_decided() -> None:
    with pytest.raises(ValueError):
        decide(HOURLY, T10, T10 - 1, Misfire.RUN_ONCE)


def test_iso_is_utc() -> None:
    assert iso(int(datetime(2025, 1, 1, tzinfo=UTC).timestamp() * 1000)) == "2025-01-01T00:00:00Z"
    assert iso(None) is None
