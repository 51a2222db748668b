"""The REST API function: routes under /api/v1, each a few lines over the service layer."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.container import services
from chalicelib.domain.states import Action
from chalicelib.errors import ValidationFailed, field_error
from chalicelib.schemas import AddDownload, DeleteQuery, ListQuery, PatchDownload, parse
from chalicelib.settings import SettingsError

from .http import json_body, owner, query, respond, route

blueprint = Blueprint(__name__)
VERSION = "0.1.0"


@route(blueprint, "/health", ["GET"])
def health(request: Request) -> dict[str, Any]:
    return {"status": "ok", "version": VERSION, "stage": services().config.stage}


@route(blueprint, "/downloads", ["POST"])
def add_download(request: Request) -> Response:
    req = parse(AddDownload, json_body(request))
    task = services().downloads.add(owner(request), req)
    return respond(task.view(), 201, {"Location": f"/api/v1/downloads/{task.id}"})


@route(blueprint, "/downloads", ["GET"])
def list_downloads(request: Request) -> Response:
    q = parse(ListQuery, query(request), "query")
    page = services().downloads.list(owner(request), q)
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


@route(blueprint, "/downloads/{task_id}", ["GET"])
def get_download(request: Request, task_id: str) -> dict[str, Any]:
    return services().downloads.get(owner(request), task_id).view()


@route(blueprint, "/downloads/{task_id}", ["PATCH"])
def patch_download(request: Request, task_id: str) -> dict[str, Any]:
    req = parse(PatchDownload, json_body(request))
    return services().downloads.patch(owner(request), task_id, req).view()


@route(blueprint, "/downloads/{task_id}", ["DELETE"])
def delete_download(request: Request, task_id: str) -> dict[str, Any]:
    q = parse(DeleteQuery, query(request), "query")
    services().downloads.delete(owner(request), task_id, q.delete_file)
    return {"id": task_id, "deleted": True, "file_deleted": q.delete_file}


def _action(action: Action) -> None:
    def act(request: Request, task_id: str) -> dict[str, Any]:
        return services().downloads.act(owner(request), task_id, action).view()

    act.__name__ = act.__qualname__ = f"{action.value}_download"
    route(blueprint, f"/downloads/{{task_id}}/{action.value}", ["POST"])(act)


for _a in Action:
    _action(_a)


@route(blueprint, "/downloads/{task_id}/file", ["GET"])
def download_file(request: Request, task_id: str) -> Response:
    url = services().downloads.file_url(owner(request), task_id)
    return Response(body="", status_code=302, headers={"Location": url})


@route(blueprint, "/settings", ["GET"])
def get_settings(request: Request) -> dict[str, Any]:
    return asdict(services().settings.get())


@route(blueprint, "/settings", ["PATCH"])
def patch_settings(request: Request) -> dict[str, Any]:
    body = json_body(request)
    if not isinstance(body, dict):
        raise field_error("body", "must be a JSON object of settings to change")
    try:
        return asdict(services().settings.update(body))
    except SettingsError as exc:
        details = [{"field": k, "message": v} for k, v in exc.fields.items()]
        summary = "; ".join(f"{d['field']} {d['message']}" for d in details)
        raise ValidationFailed(f"invalid settings: {summary}", details) from None
