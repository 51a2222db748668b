"""Fan-out routing: which connection gets which message, coalescing and stats (no AWS)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, cast

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.realtime import messages as m
from chalicelib.realtime.fanout import FanOut, Outbox


def make(i: int, **kw: object) -> Task:
    base: dict[str, object] = {"id": f"t{i}", "owner": "local", "url": f"https://h/{i}", "filename": f"{i}.bin",
                               "key": f"k{i}", "size": 1000}
    base.update(kw)
    return Task(**base)  # type: ignore[arg-type]


class FakeThrottle:
    def __init__(self, allow: bool = True, deny_first: int = 0) -> None:
        self.allow = allow
        self.deny = deny_first
        self.acquired: list[str] = []
        self.marked: list[str] = []

    def acquire(self, name: str, interval_ms: int) -> bool:
        if self.deny > 0:
            self.deny -= 1
            return False
        if self.allow:
            self.acquired.append(name)
        return self.allow

    def mark(self, name: str) -> None:
        self.marked.append(name)


class FakeReader:
    def __init__(self, active: list[Task] | None = None) -> None:
        self._active = active or []

    def active(self, owner: str) -> list[Task]:
        return list(self._active)

    def counts(self, owner: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self._active:
            counts[t.state.value] = counts.get(t.state.value, 0) + 1
        return counts


def fanout(throttle: FakeThrottle, reader: FakeReader) -> FanOut:
    return FanOut(cast(Any, None), cast(Any, reader), cast(Any, throttle), None, sleep=lambda s: None)


def received(outbox: Outbox, cid: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in outbox.by_connection.get(cid, [])]


def test_each_connection_gets_only_its_rooms() -> None:
    a, b = make(1, batch_id="A"), make(2, batch_id="B")
    subs = {"batch:A": {"ca"}, "batch:B": {"cb"}, "downloads": {"call"}, "download:t2": {"cone"}}
    outbox = Outbox()
    changes = [c for c in (m.classify(None, a), m.classify(None, b)) if c is not None]
    fanout(FakeThrottle(), FakeReader()).route("local", changes, subs, outbox)

    assert [x["task"]["id"] for x in received(outbox, "ca")] == ["t1"]
    assert [x["task"]["id"] for x in received(outbox, "cb")] == ["t2"]
    assert [x["task"]["id"] for x in received(outbox, "cone")] == ["t2"]
    assert [x["task"]["id"] for x in received(outbox, "call")] == ["t1", "t2"]


def test_a_connection_in_several_matching_rooms_gets_a_message_once() -> None:
    t = make(1, batch_id="A")
    outbox = Outbox()
    change = m.classify(None, t)
    assert change is not None
    fanout(FakeThrottle(), FakeReader()).route(
        "local", [change], {"downloads": {"c"}, "batch:A": {"c"}, "download:t1": {"c"}}, outbox)
    assert [x["type"] for x in received(outbox, "c")] == ["TASK_ADDED"]


def test_transitions_in_order_then_notification_log_and_stats() -> None:
    running = make(1, state=TaskState.DOWNLOADING)
    done = replace(running, state=TaskState.COMPLETED, bytes_done=1000)
    change = m.classify(running, done)
    assert change is not None
    subs = {"downloads": {"c"}, "stats": {"c", "s"}, "logs": {"l"}}
    throttle = FakeThrottle()
    outbox = Outbox()
    fanout(throttle, FakeReader()).route("local", [change], subs, outbox)
    assert [x["type"] for x in received(outbox, "c")] == ["TASK_UPDATED", "notification", "ENGINE_STATS"]
    assert [x["type"] for x in received(outbox, "s")] == ["ENGINE_STATS"]
    assert [x["type"] for x in received(outbox, "l")] == ["log"]
    assert received(outbox, "c")[0]["previous_state"] == "downloading"
    # A transition always refreshes the stats, and restarts their 2-second clock.
    assert throttle.marked == ["stats#local"]


def test_progress_is_coalesced_into_one_batch_update_with_every_active_download() -> None:
    t1 = make(1, state=TaskState.DOWNLOADING, lane_bytes={"0": 100}, lane_speed={"0": 10})
    t2 = make(2, state=TaskState.DOWNLOADING, lane_bytes={"0": 300}, lane_speed={"0": 30}, batch_id="B")
    writes = [
        m.classify(t1, replace(t1, lane_bytes={"0": 200})),
        m.classify(t1, replace(t1, lane_bytes={"0": 400})),
    ]
    changes = [c for c in writes if c is not None]
    assert [c.kind for c in changes] == ["progress", "progress"]
    outbox = Outbox()
    subs = {"downloads": {"all"}, "batch:B": {"b"}, "stats": {"all"}}
    fanout(FakeThrottle(), FakeReader(active=[t1, t2])).route("local", changes, subs, outbox)

    msgs = received(outbox, "all")
    assert [x["type"] for x in msgs] == ["TASK_BATCH_UPDATE", "ENGINE_STATS"]
    entries = {e["id"]: e for e in msgs[0]["tasks"]}
    assert entries["t1"]["downloaded_bytes"] == 400  # the newest write, not the index's older copy
    assert entries["t2"]["downloaded_bytes"] == 300  # an active download with no write in this batch
    assert msgs[1]["stats"]["active"] == 2 and msgs[1]["stats"]["total_speed"] == 40
    (only_b,) = received(outbox, "b")
    assert [e["id"] for e in only_b["tasks"]] == ["t2"]


def test_progress_within_the_interval_waits_for_its_end() -> None:
    t1 = make(1, state=TaskState.DOWNLOADING, lane_bytes={"0": 100})
    change = m.classify(t1, replace(t1, lane_bytes={"0": 200}))
    assert change is not None
    outbox = Outbox()
    throttle = FakeThrottle(deny_first=3)  # this write, then two tries while the interval runs
    fan = fanout(throttle, FakeReader(active=[t1]))
    later = fan.route("local", [change], {"downloads": {"c"}}, outbox)
    assert outbox.by_connection == {} and later is not None  # nothing now...
    trailing = fan.trailing([later])
    (update,) = received(trailing, "c")  # ...and the figures once the interval is over
    assert update["type"] == "TASK_BATCH_UPDATE" and update["tasks"][0]["downloaded_bytes"] == 200
    assert throttle.acquired == ["progress#local"]


def test_the_trailing_edge_leaves_an_interval_another_invocation_used() -> None:
    t1 = make(1, state=TaskState.DOWNLOADING, lane_bytes={"0": 100})
    change = m.classify(t1, replace(t1, lane_bytes={"0": 200}))
    assert change is not None
    fan = FanOut(cast(Any, None), cast(Any, FakeReader(active=[t1])), cast(Any, FakeThrottle(allow=False)), None,
                 progress_interval_ms=50, sleep=lambda s: None)
    later = fan.route("local", [change], {"downloads": {"c"}}, Outbox())
    assert later is not None
    assert fan.trailing([later]).by_connection == {}


def test_a_finished_download_is_not_in_the_batch_update_of_the_same_batch() -> None:
    t1 = make(1, state=TaskState.DOWNLOADING, lane_bytes={"0": 100})
    t2 = make(2, state=TaskState.DOWNLOADING, lane_bytes={"0": 100})
    changes = [
        m.classify(t1, replace(t1, lane_bytes={"0": 900})),
        m.classify(t1, replace(t1, state=TaskState.COMPLETED)),
        m.classify(t2, replace(t2, lane_bytes={"0": 500})),
    ]
    outbox = Outbox()
    # The index still lists t1 as downloading (it lags the stream).
    fanout(FakeThrottle(), FakeReader(active=[t1, t2])).route(
        "local", [c for c in changes if c is not None], {"downloads": {"c"}}, outbox)
    msgs = received(outbox, "c")
    assert [x["type"] for x in msgs] == ["TASK_UPDATED", "notification", "TASK_BATCH_UPDATE"]
    assert [e["id"] for e in msgs[2]["tasks"]] == ["t2"]
