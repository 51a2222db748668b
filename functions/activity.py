"""The activity log: query, export and clear."""

from __future__ import annotations

from chalice import Blueprint

blueprint = Blueprint(__name__)
