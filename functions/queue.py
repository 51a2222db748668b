"""Queue control: status, start/stop, timed pause, ordering and bulk actions."""

from __future__ import annotations

from chalice import Blueprint

blueprint = Blueprint(__name__)
