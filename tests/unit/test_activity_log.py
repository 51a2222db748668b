"""The activity log (chalicelib/activity/log.py ``ActivityLog``) on in-memory entries
(tests/fakes/activity.py), tasks and settings, and a clock the test sets: recording, stream
records, reading with pages and cursors, who may read what, and clearing."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.activity.log import ActivityLog, ActivityQuery, BadCursor, scope_of
from chalicelib.api.errors import Forbidden, NotFound
from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.settings.store import EngineSettings
from tests.fakes.activity import FakeActivityEntries
from tests.fakes.clock import ManualClock
from tests.fakes.engine import FakeSettings
from tests.fakes.tasks import FakeTasks

DAY = 86_400_000
ALICE = Identity("alice", "alice", Role.USER)
BOB = Identity("bob", "bob", Role.USER)
ADMIN = Identity("root", "root", Role.ADMIN)


class Rig:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.entries = FakeActivityEntries()
        self.tasks = FakeTasks(self.clock)
        self.log = ActivityLog(FakeSettings(EngineSettings(activity_retention_days=3)), self.entries, self.tasks,
                               clock=self.clock)


def test_an_entry_is_recorded_on_the_clock_redacted_and_expiring_with_the_retention() -> None:
    rig = Rig()
    rig.log.record(owner="alice", actor="alice", kind="task.pause", message="paused http://u:pw@host/x?token=1",
                   level="nonsense", data={"url": "http://u:pw@host/"})
    [entry] = rig.entries.items.values()
    now = rig.clock.now_ms()
    assert entry.pk == scope_of("alice") and entry.at == now and entry.sk.startswith(f"{now:013d}#")
    assert "pw" not in entry.message and "pw" not in str(entry.data) and entry.level == "info"
    assert entry.expires is not None and entry.expires.timestamp() * 1000 == now + 3 * DAY


def test_recording_never_fails_the_action() -> None:
    rig = Rig()
    rig.entries.fail = True
    rig.log.record(owner=None, actor="engine", kind="queue.resume", message="resumed")
    rig.log.record_many([{"owner": "alice", "actor": "a", "kind": "k", "message": "m"}])
    assert rig.entries.items == {}


def _modify(event: str, old: str, new: str, at: int) -> dict[str, Any]:
    image = {"id": {"S": "t1"}, "owner": {"S": "alice"}, "filename": {"S": "f.bin"}, "updated_at": {"N": str(at)}}
    return {"eventID": event, "eventName": "MODIFY", "dynamodb": {
        "OldImage": {**image, "state": {"S": old}}, "NewImage": {**image, "state": {"S": new}}}}


def test_a_retried_batch_of_stream_records_writes_the_same_entries() -> None:
    rig = Rig()
    now = rig.clock.now_ms()
    batch = [_modify("e1", "queued", "downloading", now), _modify("e2", "downloading", "completed", now + 1),
             _modify("e3", "completed", "completed", now + 2), {"eventName": "MODIFY", "dynamodb": None}]
    assert rig.log.handle_changes(batch) == 2
    assert rig.log.handle_changes(batch) == 2
    assert sorted(e.message for e in rig.entries.items.values()) == ["f.bin: downloading → completed",
                                                                      "f.bin: queued → downloading"]


def test_pages_and_cursors_over_an_admins_days() -> None:
    rig = Rig()
    now = rig.clock.now_ms()
    for i in range(5):
        rig.log.record(owner="alice" if i % 2 else "bob", actor="x", kind="task.pause", message=f"step {i}",
                       at=now - i * DAY // 2)
    first = rig.log.query(ADMIN, ActivityQuery(per_page=2))
    assert first.total == 5 and [e["message"] for e in first.entries] == ["step 0", "step 1"]
    assert first.next_cursor is not None
    second = rig.log.query(ADMIN, ActivityQuery(per_page=2, cursor=first.next_cursor))
    assert [e["message"] for e in second.entries] == ["step 2", "step 3"] and second.total == 5
    third = rig.log.query(ADMIN, ActivityQuery(per_page=2, page=3))
    assert [e["message"] for e in third.entries] == ["step 4"] and third.next_cursor is None
    with pytest.raises(BadCursor):
        rig.log.query(ADMIN, ActivityQuery(per_page=2, kind="task", cursor=first.next_cursor))
    mine = rig.log.query(ALICE, ActivityQuery(q="STEP 3"))
    assert [e["message"] for e in mine.entries] == ["step 3"] and mine.total == 1


def test_another_users_log_and_task_are_not_shown() -> None:
    rig = Rig()
    rig.tasks.create(Task(id="t-bob", owner="bob", url="http://o.test/x", filename="x", key="k/x",
                          state=TaskState.QUEUED))
    rig.log.record(owner="alice", actor="alice", kind="task.removed", message="gone", task_id="t-gone")
    with pytest.raises(Forbidden):
        rig.log.query(ALICE, ActivityQuery(owner="bob"))
    with pytest.raises(NotFound):
        rig.log.query(ALICE, ActivityQuery(task_id="t-bob"))
    assert rig.log.query(BOB, ActivityQuery(task_id="t-bob")).total == 0
    assert [e["message"] for e in rig.log.query(ALICE, ActivityQuery(task_id="t-gone")).entries] == ["gone"]


def test_clearing_takes_the_callers_old_entries_or_for_an_admin_everyones() -> None:
    rig = Rig()
    now = rig.clock.now_ms()
    for who in ("alice", "bob"):
        for age in (0, 2):
            rig.log.record(owner=who, actor=who, kind="clear.test", message=f"{who} {age}", at=now - age * DAY)
    assert rig.log.clear(ALICE, 1) == 1
    assert sorted(e.message for e in rig.entries.items.values()) == ["alice 0", "bob 0", "bob 2"]
    assert rig.log.clear(ADMIN, 1) == 1
    assert sorted(e.message for e in rig.entries.items.values()) == ["alice 0", "bob 0"]


def test_export_stops_at_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.activity import log as activity

    rig = Rig()
    now = rig.clock.now_ms()
    for i in range(4):
        rig.log.record(owner="alice", actor="alice", kind="export.test", message=f"=cmd {i}", at=now - 10 + i)
    monkeypatch.setattr(activity, "EXPORT_MAX_ENTRIES", 3)
    body, n, truncated = rig.log.export(ALICE, activity.ActivityExportQuery(format="csv"))
    lines = body.decode().splitlines()
    assert n == 3 and truncated and lines[0].startswith("id,at,level") and "'=cmd 3" in lines[1]
