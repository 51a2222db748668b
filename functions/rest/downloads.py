"""The REST API function: routes under /api/v1, each a few lines over the service layer."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.domain.states import Action
from chalicelib.downloads import bulk
from chalicelib.downloads.responses import Deleted, FileLink, PartsMap, TaskPage, TaskView
from chalicelib.downloads.schemas import (
    AddDownload,
    BulkRequest,
    ClearHistoryQuery,
    DeleteQuery,
    ListQuery,
    MoveRequest,
    OwnerQuery,
    PatchDownload,
)
from chalicelib.engine.schemas import BulkAnswer, HistoryCleared, RetriedFailed
from chalicelib.health.schemas import Health

from .http import PUBLIC, caller, json_body, paginated, query, respond, route
from .webapp import websocket_url

blueprint = Blueprint(__name__)
VERSION = "0.1.0"


@route(blueprint, "/health", ["GET"], role=PUBLIC, tag="meta", response=Health)
def health(request: Request) -> dict[str, Any]:
    """Liveness: answers while the API runs; where the WebSocket API is, for clients."""
    return {"status": "ok", "version": VERSION, "stage": services().config.stage,
            "websocket_url": websocket_url(request)}


@route(blueprint, "/downloads", ["POST"], role=Role.USER, body=AddDownload, response=TaskView, status=201,
       errors=[409],
       also={200: "OK: a duplicate; the URL is already queued, running, paused or completed for you, and this "
                  "is that download (nothing was added; send allow_duplicate=true to add it anyway)"},
       headers={"Location": "the download's URL", "X-Duplicate-Of": "with 200: the id of the existing download"})
def add_download(request: Request) -> Response:
    """Add a download (the URL is checked against private networks unless the stage allows them).
    A URL you already have queued, running, paused or completed answers 200 with that download.
    A `batch_id` names your batch (made now if it does not exist); another user's answers 409."""
    req = parse(AddDownload, json_body(request))
    task = services().downloads.add(caller(request), req)
    location = {"Location": f"/api/v1/downloads/{task.id}"}
    if task.duplicate:
        return respond(task.view(), 200, {**location, "X-Duplicate-Of": task.id})
    return respond(task.view(), 201, location)


@route(blueprint, "/downloads", ["GET"], query=ListQuery, response=TaskPage, errors=[403],
       headers={"X-Total-Count": "downloads in the whole list (with the filters applied)",
                "Link": 'RFC 8288 links: rel="first", "prev", "next" (with a cursor), "last"',
                "X-Items-Read": "items the page's queries read (their ScannedCount): what the page cost"})
def list_downloads(request: Request) -> Response:
    """List your downloads (filters: status, batch_id, category, tag, created_from/_to, q; sort; page or cursor).
    Admins: everyone's unless `owner` is given. Deep pages: follow `Link: rel="next"` (a cursor)."""

    q = parse(ListQuery, query(request), "query")
    page = services().downloads.list(caller(request), q)
    answer = paginated(request, "tasks", [t.view() for t in page.tasks], total=page.total, page=page.page,
                       per_page=page.per_page, next_cursor=page.next_cursor)
    answer.headers["X-Items-Read"] = str(page.items_read)
    return answer


@route(blueprint, "/downloads/{task_id}", ["GET"], response=TaskView, errors=[404])
def get_download(request: Request, task_id: str) -> dict[str, Any]:
    """One download: state, progress, speed, ETA, parts, error, metadata (or, without it, what its
    file name suggests: `guessed`)."""
    return services().downloads.detail(caller(request), task_id)


@route(blueprint, "/downloads/{task_id}", ["PATCH"], role=Role.USER, body=PatchDownload, response=TaskView,
       errors=[404, 409])
def patch_download(request: Request, task_id: str) -> dict[str, Any]:
    """Change a download's priority, speed limit, or name: `filename`, `metadata`, `path` and `naming` change
    its key before the transfer starts; after completion the stored object is moved (server-side copy + delete)."""
    req = parse(PatchDownload, json_body(request))
    return services().downloads.patch(caller(request), task_id, req).view()


@route(blueprint, "/downloads/{task_id}", ["DELETE"], role=Role.USER, query=DeleteQuery, response=Deleted,
       errors=[404])
def delete_download(request: Request, task_id: str) -> dict[str, Any]:
    """Remove a download (cancelling it first); `delete_file=true` deletes the stored file too."""
    q = parse(DeleteQuery, query(request), "query")
    services().downloads.delete(caller(request), task_id, q.delete_file)
    return {"id": task_id, "deleted": True, "file_deleted": q.delete_file}


@route(blueprint, "/downloads/{task_id}/move", ["POST"], role=Role.USER, body=MoveRequest, response=TaskView,
       errors=[404, 409], tag="queue")
def move_download(request: Request, task_id: str) -> dict[str, Any]:
    """Move a queued or paused download to the top or the bottom of its priority in your own queue
    (priorities and moves order only your own downloads; users take turns for free slots)."""
    req = parse(MoveRequest, json_body(request))
    return services().downloads.move(caller(request), task_id, req.to).view()


@route(blueprint, "/downloads/bulk", ["POST"], role=Role.USER, body=BulkRequest, response=BulkAnswer, tag="queue")
def bulk_downloads(request: Request) -> dict[str, Any]:
    """Pause, resume, retry, cancel or delete many downloads (1 to 500 ids): a result per id
    (404 for a missing or foreign id, 409 for a state where the action makes no sense)."""
    req = parse(BulkRequest, json_body(request))
    return bulk.run(services().downloads, caller(request), req)


@route(blueprint, "/downloads/retry-failed", ["POST"], role=Role.USER, query=OwnerQuery, response=RetriedFailed,
       errors=[403], tag="queue")
def retry_failed_downloads(request: Request) -> dict[str, Any]:
    """Retry every failed download (yours; an admin may name an `owner`)."""
    q = parse(OwnerQuery, query(request), "query")
    return bulk.retry_failed(services().downloads, caller(request), q.owner)


@route(blueprint, "/downloads", ["DELETE"], role=Role.USER, query=ClearHistoryQuery, response=HistoryCleared,
       errors=[403], tag="queue")
def clear_history(request: Request) -> dict[str, Any]:
    """Clear finished history: delete your downloads in the given states (`status=completed,failed,cancelled`;
    `delete_files=true` deletes their stored files too; an admin may name an `owner`)."""
    q = parse(ClearHistoryQuery, query(request), "query")
    return bulk.clear_history(services().downloads, caller(request), q)


def _action(action: Action) -> None:
    def act(request: Request, task_id: str) -> dict[str, Any]:
        return services().downloads.act(caller(request), task_id, action).view()

    act.__name__ = act.__qualname__ = f"{action.value}_download"
    route(
        blueprint,
        f"/downloads/{{task_id}}/{action.value}",
        ["POST"],
        role=Role.USER,
        response=TaskView,
        errors=[404, 409],
        summary=f"{action.value.capitalize()} a download (409 from a state where it makes no sense)",
    )(act)


for _a in Action:
    _action(_a)


@route(blueprint, "/downloads/{task_id}/file", ["GET"], status=302, content_type="", errors=[404, 409],
       headers={"Location": "a short-lived presigned URL of the stored file"})
def download_file(request: Request, task_id: str) -> Response:
    """Redirect to the stored file of a completed download."""
    url = services().downloads.file_url(caller(request), task_id)
    return Response(body="", status_code=302, headers={"Location": url})



@route(blueprint, "/downloads/{task_id}/link", ["GET"], response=FileLink, errors=[404, 409])
def download_link(request: Request, task_id: str) -> dict[str, Any]:
    """The presigned URL of the stored file as JSON (for pages: a link the browser opens)."""
    url, seconds = services().downloads.file_link(caller(request), task_id)
    return {"url": url, "expires_in": seconds}


@route(blueprint, "/downloads/{task_id}/parts", ["GET"], response=PartsMap, errors=[404])
def download_parts(request: Request, task_id: str) -> dict[str, Any]:
    """Which parts of a download are stored (the rest are in flight or missing)."""
    task, done = services().downloads.parts_done(caller(request), task_id)
    return {"id": task.id, "state": task.state.value, "parts_total": task.part_count, "part_size": task.part_size,
            "done": list(done)}
