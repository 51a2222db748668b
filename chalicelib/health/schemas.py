"""The health routes' response models."""

from __future__ import annotations

from typing import Literal

from ..api.responses import _Out


class Health(_Out):
    status: Literal["ok"]
    version: str
    stage: str
    # ws:// or wss:// (the same address the web page uses), or null when this stage has none.
    websocket_url: str | None = None
