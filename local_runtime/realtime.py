"""The real-time triggers, locally: the WebSocket gateway and the DynamoDB stream poller."""

from __future__ import annotations

import logging
import os
from types import ModuleType

import boto3

from .errors import StartupError
from .stream_poller import StreamPoller, StreamSource, shared_sources, stream_sources
from .ws_gateway import WsGateway, websocket_handlers

log = logging.getLogger("haul.local.realtime")


class LocalRealtime:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.gateway: WsGateway | None = None
        self.pollers: list[StreamPoller] = []
        self.sources: list[StreamSource] = []
        self.pollers_here = True

    def configure_environment(self) -> None:
        """Before the app is imported: where its functions post to connections, and the
        fan-out's batching window (the poller's 100 ms polls batch enough locally; a 1 s
        window would add up to a second to every push)."""
        stage = os.environ.get("HAUL_STAGE", "local")
        os.environ.setdefault("HAUL_WS_ENDPOINT", f"http://{self.host}:{self.port}/{stage}")
        os.environ.setdefault("HAUL_FANOUT_WINDOW", "0")

    def start(self, app_module: ModuleType, with_pollers: bool = True) -> None:
        """The gateway, and the stream pollers unless a worker process runs them
        (``start_stream_pollers``: the fan-out is a Lambda function, apart from the emulator)."""
        config = app_module.CONFIG
        gateway = WsGateway(
            websocket_handlers(app_module), self.host, self.port, stage=config.stage,
            idle_timeout=float(os.environ.get("HAUL_WS_IDLE_TIMEOUT") or 600),
        )
        try:
            self.gateway = gateway.start()
        except OSError as exc:
            raise StartupError(
                f"the WebSocket gateway cannot listen on {self.host}:{self.port} ({exc.strerror or exc}): "
                "choose another port with HAUL_WS_PORT=..."
            ) from None
        self.sources = stream_sources(app_module)
        self.pollers_here = with_pollers
        if with_pollers:
            self.pollers = start_stream_pollers(app_module)

    def summary(self) -> list[str]:
        if self.gateway is None:
            return []
        handlers = ", ".join(f"{s.handler_name} <- {s.table_name}" for s in self.sources)
        if handlers and not self.pollers_here:
            handlers += " (polled by worker 0)"
        return [
            f"  WebSocket  {self.gateway.url} (management API {self.gateway.management_url}/@connections)",
            f"  streams    {handlers or 'none'}",
        ]

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self.gateway is not None:
            self.gateway.stop()


def start_stream_pollers(app_module: ModuleType) -> list[StreamPoller]:
    """Poll the stream of every ``@app.on_dynamodb_record`` source, invoking its handler: one
    reader for the handlers of a table that can share one (:func:`shared_sources`)."""
    region = app_module.CONFIG.region
    session = boto3.session.Session(region_name=region)
    dynamodb, streams = session.client("dynamodb"), session.client("dynamodbstreams")
    groups = shared_sources(stream_sources(app_module))
    return [StreamPoller(dynamodb, streams, group, region).start() for group in groups]
