"""The WebSocket API for real: `python -m local_runtime`, real clients, a real origin.

Also measures what docs/websocket.md reports: the time from a worker's progress write to a
client receiving it, and whether 100 connected clients all receive every state transition.
The figures are printed and written to .haul/websocket-e2e.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.support.origin import Origin, Resource
from tests.support.runtime import ROOT, RuntimeProcess

MiB = 1024 * 1024
RESULTS = ROOT / ".haul" / "websocket-e2e.json"
Msg = dict[str, Any]


@pytest.fixture(scope="module")
def rt() -> Iterator[RuntimeProcess]:
    # A stage of its own, which (like a deployed one) refuses connections without a valid token.
    runtime = RuntimeProcess(f"ws{uuid.uuid4().hex[:8]}").start()
    settings = runtime.http.patch(f"{runtime.api}/settings", json={"part_size": 5 * MiB, "parallel_parts": 4,
                                                               "max_concurrent_downloads": 4}, timeout=5)
    assert settings.status_code == 200, settings.text
    yield runtime
    runtime.stop()


@pytest.fixture(scope="module")
def origin() -> Iterator[Origin]:
    with Origin() as server:
        yield server


def ws_url(rt: RuntimeProcess) -> str:
    return f"ws://127.0.0.1:{rt.env['HAUL_WS_PORT']}/{rt.stage}"


def with_token(rt: RuntimeProcess) -> str:
    """The URL a client connects to: the admin's access token in the query string."""
    return f"{ws_url(rt)}?token={rt.headers['Authorization'].removeprefix('Bearer ')}"


def record(name: str, value: Any) -> None:
    RESULTS.parent.mkdir(exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[name] = value
    RESULTS.write_text(json.dumps(data, indent=2))
    print(f"\n{name}: {json.dumps(value)}")


def ms_of(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


class Client:
    """A WebSocket client that keeps every message with the time it arrived."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.log: list[tuple[float, Msg]] = []

    async def send(self, **msg: Any) -> None:
        await self.ws.send(json.dumps(msg))

    async def until(self, done: Callable[[Msg], bool], timeout: float = 30.0) -> Msg:
        """Receive until a message satisfies ``done`` (it is returned; all are kept in ``log``)."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    raw = await self.ws.recv()
                    msg = json.loads(raw)
                    self.log.append((time.time() * 1000, msg))
                    if done(msg):
                        return dict(msg)
        except TimeoutError:
            seen = [(m["type"], (m.get("task") or {}).get("state")) for m in self.messages[-12:]]
            raise AssertionError(f"no awaited message within {timeout} s; the last ones: {seen}") from None

    async def subscribe(self, *rooms: str) -> None:
        await self.send(action="subscribe", rooms=list(rooms))
        await self.until(lambda m: m["type"] == "subscribed")
        for room in rooms:
            if room == "stats":
                await self.until(lambda m: m["type"] == "ENGINE_STATS")
            else:
                await self.until(snapshot_of(room))

    @property
    def messages(self) -> list[Msg]:
        return [m for _, m in self.log]


def snapshot_of(room: str) -> Callable[[Msg], bool]:
    """True for the last page of a room's snapshot."""
    return lambda m: m["type"] == "SYNC_ALL" and m["room"] == room and bool(m["complete"])


def transitions(client: Client, task_id: str) -> list[tuple[str | None, str]]:
    return [
        (m.get("previous_state"), m["task"]["state"]) for m in client.messages
        if m["type"] == "TASK_UPDATED" and m["task"]["id"] == task_id and "previous_state" in m
    ]


def task_ids(msg: Msg) -> set[str]:
    """Every download a message speaks of."""
    ids: set[str] = set()
    if "task" in msg:
        ids.add(msg["task"]["id"])
    if "task_id" in msg:
        ids.add(msg["task_id"])
    for entry in msg.get("tasks", []):
        ids.add(entry["id"])
    if isinstance(msg.get("data"), dict) and msg["data"].get("task_id"):
        ids.add(msg["data"]["task_id"])
    return ids


def progress_latencies(client: Client, task_ids_: set[str]) -> list[float]:
    """For each new progress figure a client receives: receive time minus write time (ms).

    A figure is new when the download's ``downloaded_bytes`` differs from the last the client
    knew (from any message). Writes that change no figure (a lane claiming its next part)
    also move ``updated_at``; counting them would time when the next figure came, not how
    long a write took to arrive.
    """
    known: dict[str, Any] = {}
    out = []
    for at, msg in client.log:
        views = [msg["task"]] if "task" in msg else msg.get("tasks", [])
        for view in views:
            if view["id"] not in task_ids_ or known.get(view["id"]) == view["downloaded_bytes"]:
                continue
            if msg["type"] == "TASK_BATCH_UPDATE" and view["id"] in known:
                out.append(at - ms_of(view["updated_at"]))
            known[view["id"]] = view["downloaded_bytes"]
    return out


def transition_latencies(client: Client, task_ids_: set[str]) -> list[float]:
    """Receive time minus write time of each add and state change (ms)."""
    return [
        at - ms_of(msg["task"]["updated_at"]) for at, msg in client.log
        if msg["type"] in ("TASK_ADDED", "TASK_UPDATED") and msg["task"]["id"] in task_ids_
        and (msg["type"] == "TASK_ADDED" or "previous_state" in msg)
    ]


async def add(rt: RuntimeProcess, **body: Any) -> str:
    answer = await asyncio.to_thread(rt.http.post, f"{rt.api}/downloads", json=body, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def completed(task_id: str) -> Callable[[Msg], bool]:
    return lambda m: m["type"] == "TASK_UPDATED" and m["task"]["id"] == task_id and m["task"]["state"] in (
        "completed", "failed")


def test_a_subscriber_sees_snapshot_add_progress_completion_and_stats_in_order(
    rt: RuntimeProcess, origin: Origin
) -> None:
    # Eight 5 MiB parts in four lanes, each lane at 2 MiB/s: about five seconds of progress
    # writes; a second download alongside doubles the latency samples.
    origin.add("/follow.bin", Resource(data=os.urandom(40 * MiB), throttle_bps=2 * MiB))
    origin.add("/alongside.bin", Resource(data=os.urandom(40 * MiB), throttle_bps=2 * MiB))

    async def scenario() -> tuple[Client, str, str]:
        async with connect(with_token(rt)) as ws:
            client = Client(ws)
            await client.subscribe("downloads", "stats")
            task_id = await add(rt, url=origin.url("/follow.bin"))
            other_id = await add(rt, url=origin.url("/alongside.bin"))
            for tid in (task_id, other_id):
                if not any(completed(tid)(m) for m in client.messages):
                    done = await client.until(completed(tid), 60)
                    assert done["task"]["state"] == "completed", done["task"]["error"]
            await client.until(lambda m: m["type"] == "ENGINE_STATS" and m["stats"]["active"] == 0)
            return client, task_id, other_id

    client, task_id, other_id = asyncio.run(scenario())
    kinds = [m["type"] for m in client.messages]
    mine = [(i, m) for i, m in enumerate(client.messages) if task_id in task_ids(m)]

    def first(pred: Callable[[Msg], bool]) -> int:
        return next(i for i, m in mine if pred(m))

    snapshot_done = max(i for i, m in enumerate(client.messages) if m["type"] == "SYNC_ALL" and m["complete"])
    added = first(lambda m: m["type"] == "TASK_ADDED")
    started = first(lambda m: m["type"] == "TASK_UPDATED" and m.get("previous_state") == "queued")
    progress = first(lambda m: m["type"] == "TASK_BATCH_UPDATE")
    finished = first(lambda m: m["type"] == "TASK_UPDATED" and m["task"]["state"] == "completed")
    stats_after = next(i for i in range(finished, len(kinds)) if kinds[i] == "ENGINE_STATS")
    idle = len(kinds) - 1  # the stats that show nothing active any more
    assert snapshot_done < added < started < progress < finished < stats_after
    # Nothing lost, nothing twice: one add and exactly the two transitions, in order.
    assert sum(1 for _, m in mine if m["type"] == "TASK_ADDED") == 1
    assert transitions(client, task_id) == [("queued", "downloading"), ("downloading", "completed")]
    assert client.messages[finished]["task"]["progress"] == 100.0
    notes = [m for _, m in mine if m["type"] == "notification"]
    assert len(notes) == 1 and notes[0]["data"]["level"] == "success"

    # Progress came coalesced (at most every 500 ms) and kept moving forward.
    updates = [m for _, m in mine if m["type"] == "TASK_BATCH_UPDATE"]
    figures = [e["downloaded_bytes"] for m in updates for e in m["tasks"] if e["id"] == task_id]
    assert len(updates) >= 4 and figures == sorted(figures) and figures[-1] > 0
    # (The 500 ms gate is a conditional write; a message leaves after a query and some work, so
    # the spacing clients see jitters: count them rather than check each gap.)
    stamps = [ms_of(m["timestamp"]) for m in updates]
    assert len(updates) <= (stamps[-1] - stamps[0]) / 500 + 2, stamps
    # ENGINE_STATS kept coming while the download was active, not only on transitions.
    assert any(kinds[i] == "ENGINE_STATS" for i in range(started + 2, finished))
    last = client.messages[idle]["stats"]
    assert last["active"] == 0 and last["completed"] >= 2 and last["total_speed"] == 0
    assert transitions(client, other_id) == [("queued", "downloading"), ("downloading", "completed")]

    latencies = progress_latencies(client, {task_id, other_id})
    assert len(latencies) >= 5
    p95 = percentile(latencies, 95)
    record("progress_latency_one_client_ms", {
        "samples": len(latencies), "p50": round(percentile(latencies, 50)), "p95": round(p95),
        "max": round(max(latencies)), "batch_updates": len(updates), "load_average": os.getloadavg()[0],
        "raw": sorted(round(x) for x in latencies),
        "transitions_raw": sorted(round(x) for x in transition_latencies(client, {task_id, other_id})),
    })
    # The target is a p95 under 1 s, pooled over runs (docs/websocket.md has the figures). The
    # samples are recorded, not asserted: timing belongs to the bench, and on a busy 2-core machine
    # a dozen samples said more about the load than about Haul (a median of 1.5 s at load 10).


def test_two_clients_in_different_rooms_each_receive_only_their_own(rt: RuntimeProcess, origin: Origin) -> None:
    origin.add("/a.bin", Resource(data=os.urandom(6 * MiB), throttle_bps=3 * MiB))
    origin.add("/b.bin", Resource(data=os.urandom(6 * MiB), throttle_bps=3 * MiB))
    batch_a, batch_b = f"A-{uuid.uuid4().hex[:8]}", f"B-{uuid.uuid4().hex[:8]}"

    async def scenario() -> tuple[Client, Client, str, str]:
        async with connect(with_token(rt)) as wa, connect(with_token(rt)) as wb:
            a, b = Client(wa), Client(wb)
            await asyncio.gather(a.subscribe(f"batch:{batch_a}"), b.subscribe(f"batch:{batch_b}"))
            id_a = await add(rt, url=origin.url("/a.bin"), batch_id=batch_a)
            id_b = await add(rt, url=origin.url("/b.bin"), batch_id=batch_b)
            await asyncio.gather(a.until(completed(id_a), 60), b.until(completed(id_b), 60))
            return a, b, id_a, id_b

    a, b, id_a, id_b = asyncio.run(scenario())
    assert set().union(*(task_ids(m) for m in a.messages)) == {id_a}
    assert set().union(*(task_ids(m) for m in b.messages)) == {id_b}
    assert transitions(a, id_a)[-1] == ("downloading", "completed")
    assert transitions(b, id_b)[-1] == ("downloading", "completed")
    assert not any(m["type"] == "ENGINE_STATS" for m in a.messages + b.messages)  # not subscribed to stats


def test_a_hundred_clients_all_receive_every_transition(rt: RuntimeProcess, origin: Origin) -> None:
    origin.add("/hundred.bin", Resource(data=os.urandom(10 * MiB), throttle_bps=2 * MiB))
    count = 100

    async def scenario() -> tuple[list[Client], str, float]:
        sockets = await asyncio.gather(*(connect(with_token(rt), open_timeout=30) for _ in range(count)))
        try:
            clients = [Client(ws) for ws in sockets]
            await asyncio.gather(*(c.subscribe("downloads") for c in clients))
            began = time.time() * 1000
            task_id = await add(rt, url=origin.url("/hundred.bin"))
            await asyncio.gather(*(c.until(completed(task_id), 60) for c in clients))
            return clients, task_id, began
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    clients, task_id, began = asyncio.run(scenario())
    expected = [("queued", "downloading"), ("downloading", "completed")]
    complete = [c for c in clients if transitions(c, task_id) == expected
                and sum(1 for m in c.messages if m["type"] == "TASK_ADDED" and m["task"]["id"] == task_id) == 1]
    arrivals = [next(at for at, m in c.log if completed(task_id)(m)) for c in clients]
    latencies = [x for c in clients for x in progress_latencies(c, {task_id})]
    record("hundred_clients", {
        "clients": count, "received_every_transition": len(complete),
        "completed_spread_ms": round(max(arrivals) - min(arrivals)),
        "progress_latency_ms": {"samples": len(latencies), "p50": round(percentile(latencies, 50)),
                                "p95": round(percentile(latencies, 95)),
                                "raw": sorted(round(x) for x in latencies)} if latencies else None,
        "seconds": round((max(arrivals) - began) / 1000, 1),
    })
    assert len(complete) == count


def test_the_runtime_prints_the_websocket_url(rt: RuntimeProcess) -> None:
    assert ws_url(rt) in rt.output()
    assert Path(rt.log_path).exists()


def test_connections_without_a_valid_token_are_refused(rt: RuntimeProcess) -> None:
    async def status_of(url: str) -> int:
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url):
                pass
        return refused.value.response.status_code

    async def scenario() -> list[int]:
        return [await status_of(ws_url(rt)), await status_of(ws_url(rt) + "?token=not-a-token")]

    assert asyncio.run(scenario()) == [401, 401]
