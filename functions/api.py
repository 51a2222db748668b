"""The REST API function: routes under /api/v1, each a few lines over the service layer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.domain.states import Action
from chalicelib.errors import ValidationFailed, field_error
from chalicelib.responses import Deleted, Health, Settings, SettingsPatch, TaskPage, TaskView
from chalicelib.schemas import AddDownload, DeleteQuery, ListQuery, PatchDownload, parse
from chalicelib.settings import SettingsError

from .http import PUBLIC, caller, json_body, query, respond, route

blueprint = Blueprint(__name__)
VERSION = "0.1.0"


@route(blueprint, "/health", ["GET"], role=PUBLIC, tag="meta", response=Health)
def health(request: Request) -> dict[str, Any]:
    """Liveness: answers while the API runs."""
    return {"status": "ok", "version": VERSION, "stage": services().config.stage}


@route(blueprint, "/downloads", ["POST"], role=Role.USER, body=AddDownload, response=TaskView, status=201,
       headers={"Location": "the new download's URL"})
def add_download(request: Request) -> Response:
    """Add a download (the URL is checked against private networks unless the stage allows them)."""
    req = parse(AddDownload, json_body(request))
    task = services().downloads.add(caller(request), req)
    return respond(task.view(), 201, {"Location": f"/api/v1/downloads/{task.id}"})


@route(blueprint, "/downloads", ["GET"], query=ListQuery, response=TaskPage, errors=[403],
       headers={"X-Total-Count": "downloads in the whole list"})
def list_downloads(request: Request) -> Response:
    """List your downloads newest first (admins: everyone's, state by state, unless `owner` is given)."""
    q = parse(ListQuery, query(request), "query")
    page = services().downloads.list(caller(request), q)
    pages = -(-page.total // page.per_page) if page.total else 0
    body = {
        "tasks": [t.view() for t in page.tasks],
        "total": page.total,
        "page": page.page,
        "per_page": page.per_page,
        "pages": pages,
        "next_cursor": page.next_cursor,
    }
    return respond(body, headers={"X-Total-Count": str(page.total)})


@route(blueprint, "/downloads/{task_id}", ["GET"], response=TaskView, errors=[404])
def get_download(request: Request, task_id: str) -> dict[str, Any]:
    """One download: state, progress, speed, ETA, parts, error."""
    return services().downloads.get(caller(request), task_id).view()


@route(blueprint, "/downloads/{task_id}", ["PATCH"], role=Role.USER, body=PatchDownload, response=TaskView,
       errors=[404, 409])
def patch_download(request: Request, task_id: str) -> dict[str, Any]:
    """Change a download's priority, or its filename until the transfer starts."""
    req = parse(PatchDownload, json_body(request))
    return services().downloads.patch(caller(request), task_id, req).view()


@route(blueprint, "/downloads/{task_id}", ["DELETE"], role=Role.USER, query=DeleteQuery, response=Deleted,
       errors=[404])
def delete_download(request: Request, task_id: str) -> dict[str, Any]:
    """Remove a download (cancelling it first); `delete_file=true` deletes the stored file too."""
    q = parse(DeleteQuery, query(request), "query")
    services().downloads.delete(caller(request), task_id, q.delete_file)
    return {"id": task_id, "deleted": True, "file_deleted": q.delete_file}


def _action(action: Action) -> None:
    def act(request: Request, task_id: str) -> dict[str, Any]:
        return services().downloads.act(caller(request), task_id, action).view()

    act.__name__ = act.__qualname__ = f"{action.value}_download"
    route(blueprint, f"/downloads/{{task_id}}/{action.value}", ["POST"], role=Role.USER, response=TaskView,
          errors=[404, 409], summary=f"{action.value.capitalize()} a download (409 from a state where it makes no sense)",
          )(act)


for _a in Action:
    _action(_a)


@route(blueprint, "/downloads/{task_id}/file", ["GET"], status=302, content_type="", errors=[404, 409],
       headers={"Location": "a short-lived presigned URL of the stored file"})
def download_file(request: Request, task_id: str) -> Response:
    """Redirect to the stored file of a completed download."""
    url = services().downloads.file_url(caller(request), task_id)
    return Response(body="", status_code=302, headers={"Location": url})


@route(blueprint, "/settings", ["GET"], tag="settings", response=Settings)
def get_settings(request: Request) -> dict[str, Any]:
    """The engine settings."""
    return asdict(services().settings.get())


@route(blueprint, "/settings", ["PATCH"], role=Role.ADMIN, tag="settings", body=SettingsPatch, response=Settings)
def patch_settings(request: Request) -> dict[str, Any]:
    """Change engine settings (admins); an invalid value answers 422 naming it."""
    body = json_body(request)
    if not isinstance(body, dict):
        raise field_error("body", "must be a JSON object of settings to change")
    try:
        return asdict(services().settings.update(body))
    except SettingsError as exc:
        details = [{"field": k, "message": v} for k, v in exc.fields.items()]
        summary = "; ".join(f"{d['field']} {d['message']}" for d in details)
        raise ValidationFailed(f"invalid settings: {summary}", details) from None
