"""Pushing to WebSocket connections through API Gateway's management API.

The same code pushes to AWS and to the local gateway: only the endpoint differs
(:func:`management_endpoint`). A connection that is gone raises :class:`ConnectionGone`
(which is Chalice's ``WebsocketDisconnectedError``), and :meth:`Publisher.deliver` reports
it so the caller can forget the connection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from chalice.app import WebsocketDisconnectedError

from ..config import Config
from .messages import MAX_MESSAGE_BYTES

log = logging.getLogger("haul.realtime.publisher")


class ConnectionGone(WebsocketDisconnectedError):
    """The client is no longer connected (the management API answered 410 Gone)."""

    def __str__(self) -> str:
        return f"connection {self.connection_id} is gone"


def management_endpoint(config: Config, domain_name: str | None = None, stage: str | None = None) -> str | None:
    """Where to post to connections: configured, else from the API id, else from an event.

    Functions that are not WebSocket handlers (the fan-out) have no event to learn it from,
    so they need ``HAUL_WS_ENDPOINT`` or ``HAUL_WS_API_ID`` (+ ``HAUL_WS_STAGE``).
    """
    if config.ws_endpoint:
        return config.ws_endpoint.rstrip("/")
    if config.ws_api_id:
        suffix = ".cn" if config.region.startswith("cn-") else ""
        return f"https://{config.ws_api_id}.execute-api.{config.region}.amazonaws.com{suffix}/{config.ws_stage}"
    if domain_name and stage:
        return f"https://{domain_name}/{stage}"
    return None


@dataclass
class DeliveryReport:
    sent: int = 0
    gone: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)


class Publisher:
    """Posts messages to connections: in order for each connection, connections in parallel."""

    def __init__(self, client: Any, workers: int = 16) -> None:
        self._client = client
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def send(self, connection_id: str, data: str) -> None:
        payload = data.encode()
        if len(payload) > MAX_MESSAGE_BYTES:
            # Never happens for messages built by messages.py; API Gateway would answer 413.
            raise ValueError(f"a {len(payload)}-byte message is over the {MAX_MESSAGE_BYTES}-byte limit")
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=payload)
        except self._client.exceptions.GoneException:
            raise ConnectionGone(connection_id) from None

    def close(self, connection_id: str) -> None:
        try:
            self._client.delete_connection(ConnectionId=connection_id)
        except self._client.exceptions.GoneException:
            raise ConnectionGone(connection_id) from None

    def info(self, connection_id: str) -> dict[str, Any]:
        try:
            return dict(self._client.get_connection(ConnectionId=connection_id))
        except self._client.exceptions.GoneException:
            raise ConnectionGone(connection_id) from None

    def deliver(self, outbox: Mapping[str, Sequence[str]]) -> DeliveryReport:
        """Send each connection its messages, in order; stop at a connection that is gone."""
        report = DeliveryReport()
        if not outbox:
            return report
        if len(outbox) == 1:
            for cid, messages in outbox.items():
                self._deliver_one(cid, messages, report)
            return report
        pool = self._executor()
        futures = [pool.submit(self._deliver_one, cid, messages, report) for cid, messages in outbox.items()]
        for future in futures:
            future.result()
        return report

    def _deliver_one(self, cid: str, messages: Sequence[str], report: DeliveryReport) -> None:
        for data in messages:
            try:
                self.send(cid, data)
            except WebsocketDisconnectedError:
                with self._lock:
                    report.gone.add(cid)
                return
            except (ClientError, BotoCoreError, ValueError) as exc:
                # One message lost to one client (throttled past the retries, too large):
                # logged, and the others still go out.
                log.warning("posting to connection %s failed: %s", cid, exc)
                with self._lock:
                    report.failed[cid] = str(exc)
                continue
            with self._lock:
                report.sent += 1

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="ws-post")
            return self._pool


class Publishers:
    """One publisher per management endpoint, made on first use (the one place they are made)."""

    def __init__(self, config: Config, client_factory: Callable[[str], Any]) -> None:
        self._config = config
        self._factory = client_factory
        self._by_endpoint: dict[str, Publisher] = {}
        self._lock = threading.Lock()

    def for_endpoint(self, endpoint: str) -> Publisher:
        with self._lock:
            publisher = self._by_endpoint.get(endpoint)
            if publisher is None:
                publisher = self._by_endpoint[endpoint] = Publisher(self._factory(endpoint))
            return publisher

    def default(self) -> Publisher | None:
        """The configured endpoint's publisher (None if the configuration names none)."""
        endpoint = management_endpoint(self._config)
        return self.for_endpoint(endpoint) if endpoint else None

    def for_event(self, domain_name: str | None, stage: str | None) -> Publisher | None:
        endpoint = management_endpoint(self._config, domain_name, stage)
        return self.for_endpoint(endpoint) if endpoint else None
