"""The notification service's WebSocket push (chalicelib/realtime/wiring.py ``push_notification``,
wired by the composition root; tests/functional/test_notify.py checks it end to end with a real
client): a ``notification`` to the owner's connections in the ``notifications`` room only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

from chalicelib.realtime.auth import Identity
from chalicelib.realtime.connections import ConnectionStore
from chalicelib.realtime.publisher import DeliveryReport, Publisher
from chalicelib.realtime.wiring import push_notification
from tests.fakes.clock import ManualClock
from tests.fakes.realtime import FakeConnections


class Recorder:
    def __init__(self) -> None:
        self.sent: list[dict[str, list[Any]]] = []

    def deliver(self, outbox: Mapping[str, Sequence[str]]) -> DeliveryReport:
        self.sent.append({cid: [json.loads(x) for x in msgs] for cid, msgs in outbox.items()})
        return DeliveryReport(sent=sum(len(v) for v in outbox.values()))


def test_a_notification_reaches_the_owners_notifications_room_only() -> None:
    store = ConnectionStore(FakeConnections(), clock=ManualClock())
    for cid, owner, rooms in (
        ("c1", "alice", ["notifications"]),
        ("c2", "alice", ["downloads"]),
        ("c3", "bob", ["notifications"]),
    ):
        store.subscribe(store.add(cid, Identity(owner)), rooms)
    publisher = Recorder()
    push_notification(store, cast(Publisher, publisher), "alice", {"title": "Job failed"})
    assert [list(out) for out in publisher.sent] == [["c1"]]
    message = publisher.sent[0]["c1"][0]
    assert message["type"] == "notification" and message["data"] == {"title": "Job failed"}
    push_notification(store, cast(Publisher, publisher), "carol", {"title": "x"})  # no connections: nothing sent
    push_notification(store, None, "alice", {"title": "x"})  # no management endpoint: nothing sent
    assert len(publisher.sent) == 1
