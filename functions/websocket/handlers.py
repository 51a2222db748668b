"""The WebSocket API's handlers ($connect, $default, $disconnect); the protocol is in
chalicelib/realtime (docs/websocket.md)."""

from __future__ import annotations

import base64
import logging
from typing import Any

from chalice.app import WebsocketEvent

from chalicelib.container import realtime
from chalicelib.realtime.auth import authenticate

from ..rest.http import LOCAL_OWNER

log = logging.getLogger("haul.websocket")


def _token(raw: dict[str, Any]) -> str | None:
    """The token a client connects with: ``?token=`` (browsers) or an Authorization header."""
    query = raw.get("queryStringParameters") or {}
    if query.get("token"):
        return str(query["token"])
    headers = {str(k).lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def connect(event: WebsocketEvent) -> dict[str, Any]:
    rt = realtime()
    identity = authenticate(_token(event.to_dict()), rt.config, LOCAL_OWNER)
    if identity is None:
        log.info("connection %s refused: no valid token", event.connection_id)
        return {"statusCode": 401, "body": "a valid token is required (?token=...)"}
    rt.session.connect(event.connection_id, identity)
    return {"statusCode": 200}


def message(event: WebsocketEvent) -> None:
    rt = realtime()
    raw = event.to_dict()
    body = raw.get("body")
    if body is not None and raw.get("isBase64Encoded"):
        body = base64.b64decode(body).decode("utf-8", errors="replace")
    publisher = rt.publishers.for_event(event.domain_name, event.stage)
    if publisher is None:
        log.error("no management endpoint to answer connection %s", event.connection_id)
        return
    request_id = (raw.get("requestContext") or {}).get("requestId")
    rt.session.message(event.connection_id, body, publisher, request_id)


def disconnect(event: WebsocketEvent) -> None:
    realtime().session.disconnect(event.connection_id)
