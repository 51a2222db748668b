"""Statistics: engine stats, overview, timeline and breakdowns, from counters kept as tasks change.

The counters are maintained by the tasks table's stream consumer (functions/streams/stats.py,
chalicelib/stats/store.py); the routes read them with GetItem and Query, never a Scan. A user
sees their own figures (scope ``u#<id>``); an admin everyone's (scope ``all``) unless
``owner=`` names one user.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from chalice import Blueprint
from chalice.app import Request
from pydantic import Field

from chalicelib.api.errors import Forbidden, field_error
from chalicelib.api.schemas import _Strict, parse
from chalicelib.auth.identity import Identity
from chalicelib.container import services
from chalicelib.domain.aggregates import ALL, user_scope
from chalicelib.stats.schemas import Breakdown, EngineStats, Overview, Timeline

from .http import caller, query, route

blueprint = Blueprint(__name__)
log = logging.getLogger("haul.stats")
TAG = "statistics"
MAX_HOURS = timedelta(days=31)
MAX_DAYS = timedelta(days=366)
_EPOCH_MS = re.compile(r"^-?\d{1,15}$")


class ScopeQuery(_Strict):
    owner: str | None = Field(default=None, min_length=1, max_length=64,
                              description="an admin: this user's figures instead of everyone's")


class TimelineQuery(ScopeQuery):
    group: Literal["hour", "day"] = "hour"
    since: str | None = Field(default=None, max_length=64, description="ISO 8601 or epoch milliseconds")
    until: str | None = Field(default=None, max_length=64, description="ISO 8601 or epoch milliseconds; default now")


class BreakdownQuery(ScopeQuery):
    by: Literal["batch", "category", "tag", "host"]
    limit: int = Field(default=50, ge=1, le=500)


def scope_of(who: Identity, owner: str | None) -> str:
    """Whose figures: the caller's own; an admin's ``all`` unless ``owner`` names a user."""
    if owner is not None and owner != who.user_id and not who.is_admin:
        raise Forbidden("only an admin reads other users' statistics")
    if owner is not None:
        return user_scope(owner)
    return ALL if who.is_admin else user_scope(who.user_id)


def parse_time(field: str, value: str) -> datetime:
    """ISO 8601 (UTC unless it says otherwise) or epoch milliseconds."""
    try:
        if _EPOCH_MS.match(value):
            at = datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        else:
            at = datetime.fromisoformat(value)
            at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise field_error(field, "must be an ISO 8601 time or epoch milliseconds") from None
    if not 2000 <= at.year <= 2200:
        raise field_error(field, "must be between the years 2000 and 2200")
    return at


@route(blueprint, "/stats/engine", ["GET"], tag=TAG, query=ScopeQuery, response=EngineStats, errors=[403])
def engine_stats(request: Request) -> dict[str, Any]:
    """Downloads per state now, the total speed, and the bytes left."""
    q = parse(ScopeQuery, query(request), "query")
    return services().stats.engine(scope_of(caller(request), q.owner))


@route(blueprint, "/stats/overview", ["GET"], tag=TAG, query=ScopeQuery, response=Overview, errors=[403])
def overview(request: Request) -> dict[str, Any]:
    """Downloads today, this week (from Monday, UTC), this month and in all; success rate; bytes stored."""
    q = parse(ScopeQuery, query(request), "query")
    return services().stats.overview(scope_of(caller(request), q.owner), datetime.now(tz=UTC))


@route(blueprint, "/stats/timeline", ["GET"], tag=TAG, query=TimelineQuery, response=Timeline, errors=[403])
def timeline(request: Request) -> dict[str, Any]:
    """Added, completed, failed, cancelled and bytes per hour (at most 31 days) or day (at most 366)."""
    q = parse(TimelineQuery, query(request), "query")
    scope = scope_of(caller(request), q.owner)
    until = parse_time("until", q.until) if q.until else datetime.now(tz=UTC)
    default = timedelta(hours=23) if q.group == "hour" else timedelta(days=29)
    since = parse_time("since", q.since) if q.since else until - default
    if since > until:
        raise field_error("since", "must not be after until")
    if until - since > (MAX_HOURS if q.group == "hour" else MAX_DAYS):
        span = "31 days of hours" if q.group == "hour" else "366 days"
        raise field_error("since", f"the period may span at most {span}")
    return services().stats.timeline(scope, q.group, since, until)


@route(blueprint, "/stats/breakdown", ["GET"], tag=TAG, query=BreakdownQuery, response=Breakdown, errors=[403])
def breakdown(request: Request) -> dict[str, Any]:
    """Added, completed, failed, cancelled and bytes per batch, category, tag or host; most added first."""
    q = parse(BreakdownQuery, query(request), "query")
    return services().stats.breakdown(scope_of(caller(request), q.owner), q.by, q.limit)
