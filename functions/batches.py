"""Batches: many downloads added in one request, summarised and acted on together."""

from __future__ import annotations

from chalice import Blueprint

blueprint = Blueprint(__name__)
