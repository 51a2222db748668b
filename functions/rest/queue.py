"""Queue control: status with statistics, start/stop, timed pause, and reordering.

The queue is shared by every user: anyone may read its state (and their own statistics;
admins everyone's), only admins start, stop or pause it. Stop lets the parts in flight land
and dispatches nothing new; running downloads wait in the queue (phase ``held``) until the
queue starts again, then fetch only the parts they are missing (chalicelib/engine/queuecontrol.py).
"""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Identity, Role
from chalicelib.container import services
from chalicelib.downloads import bulk
from chalicelib.downloads.schemas import ReorderRequest
from chalicelib.engine.queuecontrol import QueueStatus
from chalicelib.engine.schemas import QueuePause, QueueView, Reordered

from .http import caller, json_body, route

blueprint = Blueprint(__name__)
log = logging.getLogger("haul.api")


def _answer(who: Identity, status: QueueStatus) -> dict[str, Any]:
    svc = services()
    stats = getattr(svc, "stats", None)
    statistics = None
    if stats is not None and hasattr(stats, "queue_statistics"):
        try:
            statistics = stats.queue_statistics("all" if who.is_admin else f"u#{who.user_id}")
        except Exception:  # the queue's state answers even when its figures cannot be read
            log.exception("could not read the queue statistics")
    return {**svc.queue_control.view(status), "statistics": statistics}


@route(blueprint, "/queue", ["GET"], response=QueueView, tag="queue")
def queue_status(request: Request) -> dict[str, Any]:
    """The queue's state (running, stopped, paused until ...) and statistics (admins: everyone's)."""
    return _answer(caller(request), services().queue_control.status())


@route(blueprint, "/queue/start", ["POST"], role=Role.ADMIN, response=QueueView, tag="queue")
def queue_start(request: Request) -> dict[str, Any]:
    """Start the queue (also ends a timed pause early): waiting downloads are dispatched in priority order."""
    who = caller(request)
    return _answer(who, services().queue_control.start(who))


@route(blueprint, "/queue/stop", ["POST"], role=Role.ADMIN, response=QueueView, tag="queue")
def queue_stop(request: Request) -> dict[str, Any]:
    """Stop the queue: parts in flight land, nothing new is fetched; running downloads wait in the queue."""
    who = caller(request)
    return _answer(who, services().queue_control.stop(who))


@route(blueprint, "/queue/pause", ["POST"], role=Role.ADMIN, body=QueuePause, response=QueueView, tag="queue")
def queue_pause(request: Request) -> dict[str, Any]:
    """Pause the queue for a while (`seconds`, `minutes` or `until`, 1 s to 30 days); it starts again by itself."""
    req = parse(QueuePause, json_body(request))
    who = caller(request)
    return _answer(who, services().queue_control.pause(who, req.until_ms(services().queue_control.now_ms())))


@route(blueprint, "/queue/reorder", ["POST"], role=Role.USER, body=ReorderRequest, response=Reordered,
       errors=[404, 409], tag="queue")
def queue_reorder(request: Request) -> dict[str, Any]:
    """Put 2 to 500 queued or paused downloads in the given order: they swap the queue positions they held
    between them; nothing else moves."""
    req = parse(ReorderRequest, json_body(request))
    return bulk.reorder(services().downloads, caller(request), req.ids)
