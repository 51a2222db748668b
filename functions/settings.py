"""Engine settings: get, patch, validate, history and restore."""

from __future__ import annotations

from chalice import Blueprint

blueprint = Blueprint(__name__)
