"""Statistics: engine stats, overview, timeline and breakdowns, from counters kept as tasks change."""

from __future__ import annotations

from chalice import Blueprint

blueprint = Blueprint(__name__)
