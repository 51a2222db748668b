"""Builds the real-time side: :func:`build_realtime`, called by the composition root
(chalicelib/container.py ``realtime()``, once per process), which passes in what comes from
the other services (the feeds' search).

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
from .connections import ConnectionStore
from .ending import SessionEnds
from .fanout import FanOut
from .publisher import Publishers
from .queries import TaskReader
from .session import Searcher, Session
from .throttle import Throttle


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


def build_realtime(config: Config, client_factory: Callable[[str], Any] | None = None,
                   searcher: Searcher | None = None) -> Realtime:
    store = ConnectionStore()
    reader = TaskReader()
    publishers = Publishers(config, client_factory or management_client_factory(config))
    return Realtime(
        config=config,
        store=store,
        reader=reader,
        publishers=publishers,
        session=Session(store, reader, RateLimiter(), searcher=searcher),
        fanout=FanOut(store, reader, Throttle(), publishers.default()),
        ending=SessionEnds(store, publishers),
    )
