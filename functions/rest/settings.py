"""Engine settings: get, patch, validate, history and restore (chalicelib/settings/store.py).

Anyone signed in may read them; changing (PATCH, restore) is for admins. Every change is a new
version; the engine applies it on its next dispatch (each function caches the settings for
two seconds).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.errors import Conflict, NotFound, ValidationFailed
from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.settings.schemas import (
    HistoryQuery,
    Settings,
    SettingsHistoryPage,
    SettingsPatch,
    SettingsValidation,
    SettingsVersionView,
)
from chalicelib.settings.store import SettingsConflict, SettingsError, SettingsVersion

from .http import PAGINATION_HEADERS, caller, json_body, paginated, query, route

blueprint = Blueprint(__name__)


@contextmanager
def _as_api_errors() -> Iterator[None]:
    """A settings change that fails: invalid values are a 422 naming them, a lost version
    race a 409."""
    try:
        yield
    except SettingsError as exc:
        raise _invalid(exc) from None
    except SettingsConflict as exc:
        raise Conflict(str(exc)) from None


def _invalid(exc: SettingsError) -> ValidationFailed:
    details = [{"field": k, "message": v} for k, v in exc.fields.items()]
    summary = "; ".join(f"{d['field']} {d['message']}" for d in details)
    return ValidationFailed(f"invalid settings: {summary}", details)


def _record(kind: str, who: str, made: SettingsVersion, message: str) -> None:
    services().activity.record(owner=None, actor=who, kind=kind, message=message, data=made.changes)


def _describe(made: SettingsVersion) -> str:
    return ", ".join(f"{field} {old} -> {new}" for field, (old, new) in made.changes.items()) or "nothing changed"


def _version_number(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise NotFound(f"there is no settings version {text!r}")
    return int(text)


@route(blueprint, "/settings", ["GET"], tag="settings", response=Settings)
def get_settings(request: Request) -> dict[str, Any]:
    """The engine settings, in sections, with their version."""
    return services().settings.current().document()


@route(blueprint, "/settings", ["PATCH"], role=Role.ADMIN, tag="settings", body=SettingsPatch, response=Settings,
       errors=[409])
def patch_settings(request: Request) -> dict[str, Any]:
    """Change some settings (admins): a new version; 422 names each offending field ("transfer.part_size")."""
    who = caller(request)
    with _as_api_errors():
        made = services().settings.change(json_body(request), who.username)
    if made.created:
        _record("settings.update", who.username, made, f"settings version {made.version}: {_describe(made)}")
    return made.document()


@route(blueprint, "/settings/validate", ["POST"], tag="settings", body=SettingsPatch, response=SettingsValidation)
def validate_settings(request: Request) -> dict[str, Any]:
    """Check a settings change without applying it: whether it is valid, what is wrong, what it would make."""
    would, errors = services().settings.preview(json_body(request))
    return {
        "valid": not errors,
        "errors": [{"field": k, "message": v} for k, v in errors.items()],
        "settings": would.document(),
    }


@route(blueprint, "/settings/history", ["GET"], tag="settings", query=HistoryQuery, response=SettingsHistoryPage,
       headers=PAGINATION_HEADERS)
def settings_history(request: Request) -> Response:
    """Every version of the settings, newest first, with what each changed."""
    q = parse(HistoryQuery, query(request), "query")
    store = services().settings
    newest = store.current().version
    total = newest + 1
    start = min(int(q.cursor), newest) if q.cursor is not None else newest - (q.page - 1) * q.per_page
    numbers = [n for n in range(start, start - q.per_page, -1) if n >= 0]
    versions = store.versions(numbers)
    last = numbers[-1] if numbers else 0
    return paginated(
        request, "versions", [v.entry() for v in versions], total=total, page=q.page, per_page=q.per_page,
        next_cursor=str(last - 1) if numbers and last > 0 else None,
    )


@route(blueprint, "/settings/history/{version}", ["GET"], tag="settings", response=SettingsVersionView,
       errors=[404])
def settings_version(request: Request, version: str) -> dict[str, Any]:
    """One version of the settings."""
    found = services().settings.version(_version_number(version))
    if found is None:
        raise NotFound(f"there is no settings version {version}")
    return found.entry()


@route(blueprint, "/settings/history/{version}/restore", ["POST"], role=Role.ADMIN, tag="settings",
       response=Settings, errors=[404, 409, 422])
def restore_settings(request: Request, version: str) -> dict[str, Any]:
    """Make an earlier version's settings current again (admins): a new version equal to it."""
    who = caller(request)
    with _as_api_errors():
        made = services().settings.restore(_version_number(version), who.username)
    if made is None:
        raise NotFound(f"there is no settings version {version}")
    _record("settings.restore", who.username, made,
            f"settings version {made.version} restores version {version}: {_describe(made)}")
    return made.document()
