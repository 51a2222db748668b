"""Glue between the API/work queue and the sidecars service: path parameters and request
bodies to service calls, and the ``sidecars`` work messages."""

from __future__ import annotations

import logging
from typing import Any

from ..api.errors import field_error
from .models import Kind
from .schemas import ArtOptions, BatchNfo
from .service import MESSAGE_KIND, Options, SidecarService

log = logging.getLogger("haul.sidecars")
MAX_TMDB_ID = 2**31 - 1


def is_sidecars_message(body: Any) -> bool:
    return isinstance(body, dict) and body.get("kind") == MESSAGE_KIND


def title_of(kind: str, tmdb_id: str) -> tuple[Kind, int]:
    """The path's ``{kind}/{tmdb_id}``, or a 422 naming the one that is wrong."""
    if kind not in (Kind.TV.value, Kind.MOVIE.value):
        raise field_error("kind", "must be tv or movie")
    if not tmdb_id.isascii() or not tmdb_id.isdigit() or not 1 <= int(tmdb_id) <= MAX_TMDB_ID:
        raise field_error("tmdb_id", f"must be a TMDB id (a whole number from 1 to {MAX_TMDB_ID})")
    return Kind(kind), int(tmdb_id)


def options_of(req: ArtOptions) -> Options:
    return Options(poster=req.download_poster, fanart=req.download_fanart, logo=req.download_logo,
                   episodes=req.episodes)


def batch(service: SidecarService, owner: str, actor: str, req: BatchNfo) -> dict[str, Any]:
    items = [(Kind(i.kind), i.tmdb_id) for i in req.items]
    return service.batch(owner, actor, items, options_of(req), skip_existing=req.skip_existing,
                         overwrite=req.overwrite)


def on_message(service: SidecarService, body: dict[str, Any], budget: float) -> None:
    service.on_message(body, budget)
