"""The activity log: query, export and clear (chalicelib/activity/log.py)."""

from __future__ import annotations

import logging
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.activity.log import ActivityExportQuery, ActivityQuery, BadCursor, ClearActivityQuery, day_of
from chalicelib.activity.schemas import ActivityCleared, ActivityPage
from chalicelib.api.errors import field_error
from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.persistence.repository import now_ms

from .http import PAGINATION_HEADERS, caller, paginated, query, route

blueprint = Blueprint(__name__)
log = logging.getLogger("haul.activity")
TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@route(blueprint, "/activity", ["GET"], tag="activity", query=ActivityQuery, response=ActivityPage,
       errors=[403, 404], headers=PAGINATION_HEADERS)
def list_activity(request: Request) -> Response:
    """The activity log, newest first: state transitions and user actions (yours; admins: everyone's,
    the last 7 days by default, or `owner`'s). Filters: level (minimum), kind, task_id, batch_id, since,
    until, q."""
    q = parse(ActivityQuery, query(request), "query")
    try:
        page = services().activity.query(caller(request), q)
    except BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    return paginated(request, "entries", page.entries, total=page.total, page=page.page, per_page=page.per_page,
                     next_cursor=page.next_cursor)


@route(blueprint, "/activity/export", ["GET"], tag="activity", query=ActivityExportQuery, errors=[403, 404],
       content_type="*/*",
       headers={"Content-Disposition": "attachment; filename=haul-activity-<date>.<jsonl|csv>",
                "X-Truncated": "true when the export stopped at 10,000 entries or 5 MB",
                "X-Total-Count": "entries in the file"})
def export_activity(request: Request) -> Response:
    """Download the activity log (same filters) as JSON lines (application/x-ndjson) or CSV (text/csv),
    newest first, at most 10,000 entries or 5 MB."""
    q = parse(ActivityExportQuery, query(request), "query")
    try:
        content, count, truncated = services().activity.export(caller(request), q)
    except BadCursor as exc:
        raise field_error("cursor", str(exc)) from None
    name = f"haul-activity-{day_of(now_ms())}.{q.format}"
    headers: dict[str, Any] = {
        "Content-Type": TYPES[q.format],
        "Content-Disposition": f"attachment; filename={name}",
        "X-Total-Count": str(count),
        "X-Truncated": "true" if truncated else "false",
    }
    return Response(body=content.decode(), status_code=200, headers=headers)


@route(blueprint, "/activity", ["DELETE"], role=Role.USER, tag="activity", query=ClearActivityQuery,
       response=ActivityCleared)
def clear_activity(request: Request) -> dict[str, Any]:
    """Delete your activity entries older than `older_than_days` (admins: everyone's)."""
    q = parse(ClearActivityQuery, query(request), "query")
    return {"deleted": services().activity.clear(caller(request), q.older_than_days)}
