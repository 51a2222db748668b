"""The activity log's stored entries (chalicelib/activity/log.py ``ActivityEntries``), run against
the in-memory fake (tests/fakes/activity.py) and the DynamoDB implementation
(chalicelib/persistence/activity.py ``DynamoActivity``, on moto), so the fake the log's unit tests
use reads, counts, pages and deletes as the real table does."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chalicelib.activity.log import ActivityEntries, ActivityEntry, ActivityQuery, LogPlan, day_of, plan_query, scope_of
from tests.fakes.activity import FakeActivityEntries


@pytest.fixture(params=["fake", "dynamodb"])
def entries(request: pytest.FixtureRequest) -> Iterator[ActivityEntries]:
    if request.param == "fake":
        yield FakeActivityEntries()
        return
    request.getfixturevalue("emulator")
    from chalicelib.persistence.activity import DynamoActivity

    yield DynamoActivity()


@pytest.fixture()
def base() -> int:
    """A moment in a day of its own (the by-day index is shared by every test's entries)."""
    return 946_684_800_000 + random.randrange(0, 9000) * 86_400_000 + 43_200_000  # noon, 2000-2024


def _entry(owner: str, at: int, n: int, **values: object) -> ActivityEntry:
    fields: dict[str, object] = {"level": "info", "kind": "task.state", "actor": "engine", "message": f"m{n}",
                                 **values}
    return ActivityEntry(scope_of(owner), f"{at:013d}#{n:08x}", at, day_of(at), **fields)  # type: ignore[arg-type]


def _read_all(store: ActivityEntries, p: LogPlan, now: int) -> list[str]:
    return [e.message for s in range(len(p.partitions)) for e in store.read(p, s, None, 100, now)]


def test_a_partition_newest_first_filtered_by_level_kind_batch_and_range(entries: ActivityEntries, base: int) -> None:
    me = f"u-{uuid.uuid4().hex[:8]}"
    entries.add_many([
        _entry(me, base + 1, 1),
        _entry(me, base + 2, 2, level="warning", kind="task.restart", batch_id="b1"),
        _entry(me, base + 3, 3, level="error", kind="taskforce"),
        _entry(me, base + 4, 4, data={"a": [1, "x"]}, task_id="t1"),
    ])
    entries.add(_entry(me, base + 5, 5, kind="auth.login_failed", level="warning"))
    now = base + 10
    mine = plan_query(ActivityQuery(), me, False, now)
    assert _read_all(entries, mine, now) == ["m5", "m4", "m3", "m2", "m1"]
    assert entries.count(mine, now) == 5
    got = next(entries.read(mine, 0, None, 10, now))
    assert got == _entry(me, base + 5, 5, kind="auth.login_failed", level="warning")
    four = [e for e in entries.read(mine, 0, None, 10, now) if e.message == "m4"][0]
    assert four.data == {"a": [1, "x"]} and four.task_id == "t1" and four.batch_id is None
    warn = plan_query(ActivityQuery(level="warning", kind="task"), me, False, now)
    assert _read_all(entries, warn, now) == ["m2"] and entries.count(warn, now) == 1
    assert _read_all(entries, plan_query(ActivityQuery(batch_id="b1"), me, False, now), now) == ["m2"]
    ranged = plan_query(ActivityQuery(since=base + 2, until=base + 3), me, False, now)
    assert _read_all(entries, ranged, now) == ["m3", "m2"]


def test_expired_entries_are_not_read_or_counted(entries: ActivityEntries, base: int) -> None:
    me = f"u-{uuid.uuid4().hex[:8]}"
    soon = datetime.fromtimestamp((base + 60_000) / 1000, tz=UTC)
    entries.add_many([_entry(me, base, 1, expires=soon), _entry(me, base + 1, 2)])
    p = plan_query(ActivityQuery(), me, False, base + 1000)
    assert _read_all(entries, p, base + 1000) == ["m2", "m1"]
    assert _read_all(entries, p, base + 120_000) == ["m2"] and entries.count(p, base + 120_000) == 1


def test_reading_on_from_a_position(entries: ActivityEntries, base: int) -> None:
    me = f"u-{uuid.uuid4().hex[:8]}"
    entries.add_many([_entry(me, base + i, i) for i in range(7)])
    p = plan_query(ActivityQuery(), me, False, base + 100)
    rows = list(entries.read(p, 0, None, 2, base + 100))
    third = rows[2]
    start = {name: {"S": str(getattr(third, name))} for name in p.key_names}
    assert [e.message for e in entries.read(p, 0, start, 2, base + 100)] == ["m3", "m2", "m1", "m0"]


def test_the_task_and_day_indexes(entries: ActivityEntries, base: int) -> None:
    me, other, task = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    batch = uuid.uuid4().hex
    entries.add_many([
        _entry(me, base, 1, task_id=task, batch_id=batch),
        _entry(other, base + 1, 2, task_id=task, batch_id=batch),
        _entry(me, base - 86_400_000, 3, batch_id=batch),  # the day before
    ])
    now = base + 1000
    assert _read_all(entries, plan_query(ActivityQuery(task_id=task), me, False, now), now) == ["m1"]
    assert _read_all(entries, plan_query(ActivityQuery(task_id=task), me, True, now), now) == ["m2", "m1"]
    every = plan_query(ActivityQuery(batch_id=batch, since=base - 86_400_000, until=now), me, True, now)
    assert every.index == "by-day" and len(every.partitions) == 2
    assert _read_all(entries, every, now) == ["m2", "m1", "m3"] and entries.count(every, now) == 3


def test_an_entry_written_again_replaces_itself(entries: ActivityEntries, base: int) -> None:
    me = f"u-{uuid.uuid4().hex[:8]}"
    first = _entry(me, base, 1)
    entries.add_many([first])
    entries.add_many([replace(first, message="again")])
    p = plan_query(ActivityQuery(), me, False, base + 1)
    assert _read_all(entries, p, base + 1) == ["again"]


def test_deleting_before_a_time_by_partition_or_by_day(entries: ActivityEntries, base: int) -> None:
    me, other = f"u-{uuid.uuid4().hex[:8]}", f"u-{uuid.uuid4().hex[:8]}"
    entries.add_many([_entry(me, base + i, i) for i in range(3)] + [_entry(other, base + i, 10 + i) for i in range(3)])
    cut = f"{base + 2:013d}"
    assert entries.delete_before(scope_of(me), cut) == 2
    now = base + 10
    assert _read_all(entries, plan_query(ActivityQuery(), me, False, now), now) == ["m2"]
    assert entries.delete_days_before([day_of(base - 86_400_000), day_of(base)], f"{base + 1:013d}") == 1
    assert _read_all(entries, plan_query(ActivityQuery(), other, False, now), now) == ["m12", "m11"]
    assert entries.delete_before(scope_of(other), cut) == 1
