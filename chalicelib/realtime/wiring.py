"""Builds the real-time side: :func:`build_realtime`, called by the composition root
(chalicelib/container.py ``realtime()``, once per process), which passes in the stores
(:class:`RealtimeStores`: the DynamoDB implementations of ports.py) and what comes from the
other services (the feeds' search, the rate limiter).

The management API clients are made here and nowhere else: ``build_realtime`` takes a
client factory so tests can pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from ..auth.ratelimit import RateLimiter
from ..config import Config
from ..domain.clock import SYSTEM_CLOCK, Clock
from . import messages as m
from .connections import ConnectionStore
from .ending import SessionEnds
from .fanout import FanOut
from .ports import ConnectionRecords, TaskReads, Throttle
from .publisher import Publisher, Publishers
from .queries import TaskReader
from .session import Searcher, Session


@dataclass(frozen=True)
class RealtimeStores:
    """What the real-time side keeps and reads (made by the composition root)."""

    connections: ConnectionRecords
    reads: TaskReads
    throttle: Throttle
    limiter: RateLimiter | None  # a connection's message budget
    clock: Clock = SYSTEM_CLOCK


@dataclass(frozen=True)
class Realtime:
    config: Config
    store: ConnectionStore
    reader: TaskReader
    publishers: Publishers
    session: Session
    fanout: FanOut
    ending: SessionEnds  # closes the connections of sessions that ended


def management_client_factory(config: Config) -> Callable[[str], Any]:
    """endpoint -> an ``apigatewaymanagementapi`` client posting there."""
    session = boto3.session.Session(region_name=config.region)
    boto_config = BotoConfig(
        retries={"mode": "standard", "max_attempts": 3},
        max_pool_connections=32,
        connect_timeout=2,
        read_timeout=10,
    )

    def make(endpoint: str) -> Any:
        # An explicit endpoint wins over AWS_ENDPOINT_URL (which points at the emulator locally).
        return session.client("apigatewaymanagementapi", endpoint_url=endpoint, config=boto_config)

    return make


def build_realtime(
    config: Config,
    stores: RealtimeStores,
    client_factory: Callable[[str], Any] | None = None,
    searcher: Searcher | None = None,
) -> Realtime:
    store = ConnectionStore(stores.connections, clock=stores.clock)
    reader = TaskReader(stores.reads)
    publishers = Publishers(config, client_factory or management_client_factory(config))
    return Realtime(
        config=config,
        store=store,
        reader=reader,
        publishers=publishers,
        session=Session(store, reader, stores.limiter, searcher=searcher),
        fanout=FanOut(store, reader, stores.throttle, publishers.default(), clock=stores.clock),
        ending=SessionEnds(store, publishers),
    )


def push_notification(store: ConnectionStore, publisher: Publisher | None, owner: str, data: dict[str, Any]) -> None:
    """A ``notification`` message to the owner's connections in the ``notifications`` room
    (the notification service's WebSocket push, wired by the composition root)."""
    subscribers = store.subscribers(owner).get(m.NOTIFICATIONS, set())
    if not subscribers or publisher is None:
        return
    encoded = m.encode(m.message(m.NOTIFICATION, data=data))
    publisher.deliver({cid: [encoded] for cid in subscribers})
