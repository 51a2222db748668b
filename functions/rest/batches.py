"""Batches: many downloads added in one request, summarised and acted on together."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.downloads.batches import BatchListQuery, BatchTasksQuery, CreateBatch, DeleteBatchQuery
from chalicelib.downloads.responses import BatchActionResult, BatchCreated, BatchDetail, BatchPage

from .http import PAGINATION_HEADERS, caller, json_body, paginated, query, respond, route

blueprint = Blueprint(__name__)
TAG = "batches"


@route(blueprint, "/batches", ["POST"], role=Role.USER, tag=TAG, body=CreateBatch, response=BatchCreated,
       status=201, errors=[403, 503], headers={"Location": "the new batch's URL"})
def create_batch(request: Request) -> Response:
    """Add many downloads as one batch; each item succeeds or fails on its own (422 if none could be added).

    Items are added together: up to 500 answer within a few seconds. An item that could not
    be stored has `ok: false` and the error `UNAVAILABLE`; every item reported `ok` exists.
    503 if no item could be stored (nothing was added)."""
    answer = services().batches.create(caller(request), json_body(request))
    return respond(answer, 201, {"Location": f"/api/v1/batches/{answer['batch']['id']}"})


@route(blueprint, "/batches", ["GET"], tag=TAG, query=BatchListQuery, response=BatchPage, errors=[403],
       headers=PAGINATION_HEADERS)
def list_batches(request: Request) -> Response:
    """Your batches, newest first (an admin: another user's with `owner`)."""
    q = parse(BatchListQuery, query(request), "query")
    items, total, cursor = services().batches.page(caller(request), q)
    return paginated(request, "batches", items, total=total, page=q.page, per_page=q.per_page, next_cursor=cursor)


@route(blueprint, "/batches/{batch_id}", ["GET"], tag=TAG, query=BatchTasksQuery, response=BatchDetail,
       errors=[404])
def get_batch(request: Request, batch_id: str) -> dict[str, Any]:
    """A batch's summary and a page of its downloads (newest first; `cursor` for the next page)."""
    q = parse(BatchTasksQuery, query(request), "query")
    return services().batches.detail(caller(request), batch_id, q)


def _action(action: str) -> None:
    def act(request: Request, batch_id: str) -> dict[str, Any]:
        return services().batches.act(caller(request), batch_id, action)

    name = action.replace("-", "_")
    act.__name__ = act.__qualname__ = f"{name}_batch"
    route(blueprint, f"/batches/{{batch_id}}/{action}", ["POST"], role=Role.USER, tag=TAG,
          response=BatchActionResult, errors=[404],
          summary=f"{action.capitalize()} every download of a batch where that makes sense (the others are skipped)",
          )(act)


for _a in ("pause", "resume", "retry-failed"):
    _action(_a)


@route(blueprint, "/batches/{batch_id}", ["DELETE"], role=Role.USER, tag=TAG, query=DeleteBatchQuery,
       response=BatchActionResult, errors=[404])
def delete_batch(request: Request, batch_id: str) -> dict[str, Any]:
    """Delete a batch and its downloads (cancelling the active ones); `delete_files=true` deletes the files too."""
    q = parse(DeleteBatchQuery, query(request), "query")
    return services().batches.act(caller(request), batch_id, "delete", delete_files=q.delete_files)
