"""The WebSocket API against the emulator: the local gateway, the app's real handlers, the
stream poller and real clients."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from chalicelib.container import realtime, reset_realtime
from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.realtime import messages as m
from chalicelib.realtime.auth import Identity
from local_runtime.stream_poller import StreamPoller, stream_sources
from local_runtime.ws_gateway import WsGateway, websocket_handlers
from tests.support.wait import wait_for


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


@pytest.fixture()
def gateway(svc) -> Iterator[WsGateway]:
    import app as app_module
    from chalicelib.persistence.models import ConnectionModel

    for item in ConnectionModel.scan():
        item.delete()
    gw = WsGateway(websocket_handlers(app_module), port=0, stage="test").start()
    before = os.environ.get("HAUL_WS_ENDPOINT")
    os.environ["HAUL_WS_ENDPOINT"] = gw.management_url
    reset_realtime()
    yield gw
    gw.stop()
    _set_env("HAUL_WS_ENDPOINT", before)
    reset_realtime()


@pytest.fixture()
def created(svc) -> Iterator[list[str]]:
    """Ids of tasks a test made; deleted afterwards so they hold no slot and skew no count."""
    ids: list[str] = []
    yield ids
    for task_id in ids:
        svc.repo.delete(task_id)
        svc.repo.delete_parts(task_id)


@pytest.fixture()
def poller(gateway: WsGateway) -> Iterator[StreamPoller]:
    import app as app_module

    (source,) = [s for s in stream_sources(app_module) if s.handler_name == "fanout_changes"]
    session = boto3.session.Session()
    p = StreamPoller(session.client("dynamodb"), session.client("dynamodbstreams"), source,
                     session.region_name or "us-east-1").start()
    yield p
    p.stop()


def management(endpoint: str) -> Any:
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint, region_name="us-east-1")


def send(ws: ClientConnection, **msg: Any) -> None:
    ws.send(json.dumps(msg))


def recv(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return dict(json.loads(ws.recv(timeout=timeout)))


def recv_until(
    ws: ClientConnection, done: Callable[[dict[str, Any]], bool], timeout: float = 15.0
) -> list[dict[str, Any]]:
    """Every message up to and including the first for which ``done`` is true."""
    out: list[dict[str, Any]] = []
    while True:
        msg = recv(ws, timeout)
        out.append(msg)
        if done(msg):
            return out


def closed_within(ws: ClientConnection, seconds: float) -> None:
    """The server closes ``ws`` within ``seconds`` (messages sent before the close are skipped)."""
    with pytest.raises(ConnectionClosed):
        recv_until(ws, lambda msg: False, timeout=seconds)


def new_connection_id(gw: WsGateway, known: set[str]) -> str:
    ids = wait_for(lambda: set(gw.connections) - known, 5, what="the connection to register")
    (cid,) = ids
    return cid


def test_ping_malformed_and_unknown_messages_never_drop_the_connection(gateway: WsGateway) -> None:
    with connect(gateway.url) as ws:
        send(ws, action="ping", id="p1")
        pong = recv(ws)
        assert pong["type"] == "pong" and pong["ref"] == "p1" and pong["timestamp"].endswith("Z")
        ws.send("this is not JSON")
        err = recv(ws)
        assert err["type"] == "error" and err["error"]["code"] == "BAD_MESSAGE" and err["error"]["request_id"]
        send(ws, action="dance", id=3)
        err = recv(ws)
        assert (err["error"]["code"], err["ref"], err["error"]["details"][0]["field"]) == (
            "UNKNOWN_ACTION",
            3,
            "action",
        )
        send(ws, action="subscribe", rooms=["kitchen"])
        assert recv(ws)["error"]["code"] == "INVALID_ROOM"
        send(ws, action="subscribe", rooms=["download:no-such-task"])
        assert recv(ws)["error"]["code"] == "NOT_FOUND"
        ws.send(b"\x00\xff binary")
        assert recv(ws)["error"]["code"] == "BAD_MESSAGE"
        send(ws, action="ping")
        assert recv(ws)["type"] == "pong"


def test_deployed_stages_refuse_connections_without_a_valid_token(gateway: WsGateway) -> None:
    before = os.environ.get("HAUL_WS_ANONYMOUS")
    os.environ["HAUL_WS_ANONYMOUS"] = "false"
    reset_realtime()
    try:
        for url in (gateway.url, gateway.url + "?token=not-a-valid-token"):
            with pytest.raises(InvalidStatus) as refused:
                connect(url, open_timeout=10)
            assert refused.value.response.status_code == 401
        assert gateway.connections == []
    finally:
        _set_env("HAUL_WS_ANONYMOUS", before)
        reset_realtime()
    with connect(gateway.url) as ws:  # anonymous again on the test stage
        send(ws, action="ping")
        assert recv(ws)["type"] == "pong"


def test_subscribe_sends_the_full_state_in_pages_under_128_kb(
    svc, gateway: WsGateway, created: list[str]
) -> None:
    batch = uuid.uuid4().hex
    ids = created
    for i in range(150):
        task = Task(id=str(uuid.uuid4()), owner="local", url="https://example.com/" + "x" * 1500 + f"/{i}",
                    filename=f"{i}.bin", key=f"k/{i}", batch_id=batch, created_at=1000 + i, updated_at=1000 + i,
                    state=TaskState.COMPLETED)
        svc.repo.create(task)
        ids.append(task.id)
    with connect(gateway.url) as ws:
        send(ws, action="subscribe", rooms=[f"batch:{batch}", "stats"], id="s")
        ack = recv(ws)
        assert ack["type"] == "subscribed" and ack["rooms"] == sorted([f"batch:{batch}", "stats"]) and ack["ref"] == "s"
        raw_pages = []
        while True:
            raw = ws.recv(timeout=10)
            assert isinstance(raw, str)
            raw_pages.append(raw)
            if json.loads(raw)["complete"]:
                break
        pages = [json.loads(r) for r in raw_pages]
        assert len(pages) > 1 and all(len(r.encode()) < m.MAX_MESSAGE_BYTES for r in raw_pages)
        assert {p["type"] for p in pages} == {"SYNC_ALL"} and len({p["snapshot_id"] for p in pages}) == 1
        assert sorted(t["id"] for p in pages for t in p["tasks"]) == sorted(ids)
        stats = recv(ws)
        assert stats["type"] == "ENGINE_STATS" and stats["stats"]["total"] >= 150

        # A fresh snapshot on request.
        send(ws, action="sync", rooms=[f"batch:{batch}"])
        again = recv_until(ws, lambda msg: bool(msg.get("complete")))
        assert sum(len(p["tasks"]) for p in again) == 150


def test_changes_reach_subscribers_and_a_vanished_client_goes_after_the_first_failed_send(
    svc, gateway: WsGateway, poller: StreamPoller, created: list[str]
) -> None:
    batch = uuid.uuid4().hex
    store = realtime().store
    # A connection whose client vanished without API Gateway running $disconnect (it never
    # promises to): still in the table, subscribed.
    stale = store.add("vanished0000000=", Identity("local", anonymous=True))
    store.subscribe(stale, [f"batch:{batch}", "downloads"])
    with connect(gateway.url) as ws:
        send(ws, action="subscribe", rooms=[f"batch:{batch}"])
        recv_until(ws, lambda msg: bool(msg.get("complete")))
        # Written as the API would (an insert on the tasks table), but finished already so that
        # no dispatcher or worker gets involved.
        task = Task(id=str(uuid.uuid4()), owner="local", url="https://example.com/a.bin", filename="a.bin",
                    key="k/a.bin", batch_id=batch, state=TaskState.COMPLETED, created_at=1, updated_at=1)
        svc.repo.create(task)
        created.append(task.id)
        added = recv_until(ws, lambda msg: msg["type"] == "TASK_ADDED")[-1]
        assert added["task"]["id"] == task.id and added["task"]["batch_id"] == batch

        assert wait_for(lambda: store.get("vanished0000000=", include_expired=True) is None, 10,
                        what="the vanished connection to be forgotten")
        assert gateway.gone_answers >= 1
        subs = store.subscribers("local")
        assert all("vanished0000000=" not in cids for cids in subs.values())
        live = gateway.connections[0]
        assert live in subs[f"batch:{batch}"] and store.get(live) is not None


def test_a_client_that_drops_its_socket_is_forgotten(gateway: WsGateway) -> None:
    store = realtime().store
    with connect(gateway.url) as ws:
        cid = new_connection_id(gateway, set())
        send(ws, action="subscribe", rooms=["stats"])
        recv_until(ws, lambda msg: msg["type"] == "ENGINE_STATS")
        assert store.get(cid) is not None
        ws.socket.shutdown(socket.SHUT_RDWR)  # no close frame: the client just disappears
        ws.socket.close()
    wait_for(lambda: store.get(cid, include_expired=True) is None, 10, what="$disconnect to forget the connection")
    assert cid not in store.subscribers("local").get("stats", set())


@pytest.mark.parametrize("with_stage", [True, False])
def test_the_management_api(gateway: WsGateway, with_stage: bool) -> None:
    endpoint = gateway.management_url if with_stage else gateway.management_url.rsplit("/", 1)[0]
    api = management(endpoint)
    with connect(gateway.url, user_agent_header="haul-test") as ws:
        cid = new_connection_id(gateway, set())
        info = api.get_connection(ConnectionId=cid)
        assert info["Identity"]["SourceIp"] == "127.0.0.1" and info["Identity"]["UserAgent"] == "haul-test"
        assert info["ConnectedAt"] and info["LastActiveAt"]

        api.post_to_connection(ConnectionId=cid, Data=b'{"type":"hello"}')
        assert ws.recv(timeout=5) == '{"type":"hello"}'
        with pytest.raises(api.exceptions.PayloadTooLargeException):
            api.post_to_connection(ConnectionId=cid, Data=b"x" * (128 * 1024 + 1))
        api.post_to_connection(ConnectionId=cid, Data=b"x" * (128 * 1024))  # the limit itself is fine
        assert len(ws.recv(timeout=5)) == 128 * 1024
        with pytest.raises(api.exceptions.GoneException):
            api.post_to_connection(ConnectionId="nobody000000000=", Data=b"{}")

        api.delete_connection(ConnectionId=cid)
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
        with pytest.raises(api.exceptions.GoneException):
            api.get_connection(ConnectionId=cid)
    wait_for(lambda: realtime().store.get(cid, include_expired=True) is None, 10, what="$disconnect after DELETE")


def test_a_client_message_over_128_kb_closes_the_connection_with_1009(gateway: WsGateway) -> None:
    with connect(gateway.url, max_size=None) as ws:
        ws.send("x" * (128 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_an_idle_connection_is_closed_with_going_away(svc) -> None:
    import app as app_module

    gw = WsGateway(websocket_handlers(app_module), port=0, stage="test", idle_timeout=0.5).start()
    try:
        with connect(gw.url) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    finally:
        gw.stop()


def test_the_throttle_lets_one_send_per_interval_across_invocations(svc) -> None:
    from chalicelib.persistence.throttle import DynamoThrottle
    from tests.fakes.clock import ManualClock

    clock = ManualClock(1_000_000)
    first, second = DynamoThrottle(clock), DynamoThrottle(clock)  # two "invocations"
    assert first.acquire("progress#x", 500)
    assert not second.acquire("progress#x", 500)
    clock.advance(0.499)
    assert not first.acquire("progress#x", 500)
    clock.advance(0.001)
    assert second.acquire("progress#x", 500)
    assert first.acquire("progress#y", 500)  # per name
    second.mark("progress#y")
    clock.advance(0.4)
    assert not first.acquire("progress#y", 500)


def test_a_plain_http_request_is_not_a_connection(gateway: WsGateway) -> None:
    import requests

    from chalicelib.persistence.models import ConnectionModel

    answer = requests.get(gateway.url.replace("ws://", "http://"), timeout=5)
    assert answer.status_code == 426
    assert gateway.connections == [] and list(ConnectionModel.scan()) == []


def test_connections_of_a_session_that_ended_are_closed(gateway: WsGateway, svc) -> None:
    """A logout closes that session's connections; disabling the user (or a new password, or
    deleting them) closes all of theirs, and the fan-out has no subscription of theirs left."""
    from chalice.test import Client

    import app as app_module
    from chalicelib.auth.schemas import Login
    from tests.functional.test_api import Api
    from tests.functional.test_auth import wipe_accounts
    from tests.support.auth import PASSWORD, new_user

    wipe_accounts()
    api = Api(Client(app_module.app))
    _, as_admin, _ = new_user("admin")
    user_id, as_user, grant = new_user("user")
    other = svc.accounts.login(Login(username=grant["user"]["username"], password=PASSWORD), "192.0.2.60")
    token = as_user["Authorization"].split()[1]
    with connect(f"{gateway.url}?token={token}") as first, \
            connect(f"{gateway.url}?token={other.access_token}") as second:
        for ws in (first, second):
            send(ws, action="subscribe", rooms=["downloads"])
            assert recv(ws)["type"] == "subscribed"
        assert len(realtime().store.of_user(user_id)) == 2
        assert api.post("/auth/logout", headers=as_user).status_code == 200
        closed_within(first, 5)
        send(second, action="ping")
        recv_until(second, lambda msg: msg["type"] == "pong")  # another session of the same user stays
        assert [cid for cid, _ in realtime().store.of_user(user_id)] == list(gateway.connections)
        assert api.patch(f"/users/{user_id}", {"disabled": True}, headers=as_admin).status_code == 200
        closed_within(second, 5)
    assert realtime().store.of_user(user_id) == []
    assert realtime().store.subscribers(user_id) == {}
    # A replayed refresh token revokes its session: that session's connections close too.
    api.patch(f"/users/{user_id}", {"disabled": False}, headers=as_admin)
    third = svc.accounts.login(Login(username=grant["user"]["username"], password=PASSWORD), "192.0.2.61")
    with connect(f"{gateway.url}?token={third.access_token}") as ws:
        assert api.post("/auth/refresh", {"refresh_token": third.refresh_token}).status_code == 200
        assert api.post("/auth/refresh", {"refresh_token": third.refresh_token}).status_code == 401  # the replay
        closed_within(ws, 5)
    wipe_accounts()


def test_changing_your_own_password_closes_your_connections(gateway: WsGateway) -> None:
    """Issue #14: POST /auth/password ends the caller's WebSocket connections (the page opens a
    new one with its new login)."""
    from chalice.test import Client

    import app as app_module
    from tests.functional.test_api import Api
    from tests.support.auth import PASSWORD, new_user

    api = Api(Client(app_module.app))
    user_id, as_user, _ = new_user("user")
    with connect(f"{gateway.url}?token={as_user['Authorization'].split()[1]}") as ws:
        send(ws, action="subscribe", rooms=["downloads"])
        assert recv(ws)["type"] == "subscribed"
        answer = api.post("/auth/password", {"current_password": PASSWORD, "new_password": "a fresh long password"},
                          headers=as_user)
        assert answer.status_code == 200, answer.body
        closed_within(ws, 5)
    assert realtime().store.of_user(user_id) == []


def test_a_frame_over_32_kb_closes_the_connection_as_api_gateway_does(gateway: WsGateway) -> None:
    """Issue #11, item 8: one frame over 32 KB is refused with close code 1009; the same bytes
    in fragments are a message like any other (answered: over the 32 KB a message may have)."""
    with connect(gateway.url, max_size=None) as ws:
        ws.send(["x" * 20_000, "y" * 20_000])  # 40 KB in two frames
        assert recv(ws)["error"]["code"] == "MESSAGE_TOO_LARGE"
        send(ws, action="ping")
        assert recv(ws)["type"] == "pong"
        ws.send(json.dumps({"action": "ping", "pad": "z" * 33_000}))  # one frame over 32 KB
        with pytest.raises(ConnectionClosed) as closed:
            recv(ws, timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_a_flood_and_a_sync_of_many_rooms_are_limited_per_connection(gateway: WsGateway,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue #11, item 8: each connection has a budget per minute (a message 1, each room it
    reads 1 more); over it, one RATE_LIMITED error, then nothing until the minute ends."""
    monkeypatch.setattr(realtime().session, "budget", 20)
    with connect(gateway.url) as flood, connect(gateway.url) as other:
        for i in range(25):
            send(flood, action="ping", id=i)
        answers = recv_until(flood, lambda msg: msg["type"] == "error")
        assert [a["ref"] for a in answers[:-1]] == list(range(20))
        assert answers[-1]["error"]["code"] == "RATE_LIMITED" and answers[-1]["ref"] == 20
        send(flood, action="ping", id="late")
        with pytest.raises(TimeoutError):
            recv(flood, timeout=1.5)  # dropped, unanswered
        send(other, action="ping")  # another connection has its own budget
        assert recv(other)["type"] == "pong"
        rooms = [f"batch:b{i}" for i in range(25)]
        send(other, action="sync", rooms=rooms, id="big")
        refused = recv(other)
        assert refused["error"]["code"] == "RATE_LIMITED" and refused["ref"] == "big"


def test_warm_makes_the_management_client_before_the_first_record(gateway: WsGateway, monkeypatch: Any) -> None:
    """A worker's warm-up builds the real-time side with its publisher's client: the fan-out's
    first stream record (during the first download) makes no botocore client of its own."""
    from chalicelib import container

    reset_realtime()
    container.warm()
    made: list[str] = []
    original = boto3.session.Session.client

    def client(self: Any, name: str, *args: Any, **kwargs: Any) -> Any:
        made.append(name)
        return original(self, name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", client)
    publisher = realtime().publishers.default()
    assert publisher is not None and realtime().fanout is not None
    assert made == []
