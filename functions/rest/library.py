"""The library's sidecars: Kodi NFO files and artwork next to a series' or a movie's files
(docs/library.md); the logic is in chalicelib/sidecars/."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response
from chalice.app import Request

from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.sidecars import handlers
from chalicelib.sidecars.schemas import (
    BatchAnswer,
    BatchNfo,
    CreateNfo,
    MissingAnswer,
    NfoContent,
    NfoStatus,
    NfoWritten,
    RefreshNfo,
    TitlesAnswer,
    TitlesQuery,
)

from .http import caller, json_body, query, respond, route

blueprint = Blueprint(__name__)
TAG = "library"
_NFO = "/library/{kind}/{tmdb_id}/nfo"


@route(blueprint, "/library", ["GET"], tag=TAG, query=TitlesQuery, response=TitlesAnswer)
def library_titles(request: Request) -> dict[str, Any]:
    """Your series and movies (completed downloads with a TMDB id), newest first, each with its NFO and
    artwork state."""
    q = parse(TitlesQuery, query(request), "query")
    return services().sidecars.titles(caller(request).user_id, q.limit)


@route(blueprint, "/library/nfo/missing", ["GET"], tag=TAG, query=TitlesQuery, response=MissingAnswer)
def missing_nfos(request: Request) -> dict[str, Any]:
    """Your series and movies that have no NFO yet (each checked in its folder)."""
    q = parse(TitlesQuery, query(request), "query")
    return services().sidecars.missing(caller(request).user_id, q.limit)


@route(blueprint, "/library/nfo/batch", ["POST"], role=Role.USER, tag=TAG, body=BatchNfo, response=BatchAnswer,
       errors=[503])
def batch_nfos(request: Request) -> dict[str, Any]:
    """Create the NFOs of up to 100 titles: what fits in the request's time now, the rest in the background."""
    who = caller(request)
    return handlers.batch(services().sidecars, who.user_id, who.username, parse(BatchNfo, json_body(request)))


@route(blueprint, _NFO, ["GET"], tag=TAG, response=NfoStatus, errors=[404, 409, 422])
def check_nfo(request: Request, kind: str, tmdb_id: str) -> dict[str, Any]:
    """Whether a series or movie has its NFO and artwork, and whether its media files are present."""
    media_kind, number = handlers.title_of(kind, tmdb_id)
    return services().sidecars.status(caller(request).user_id, media_kind, number)


@route(blueprint, _NFO, ["POST"], role=Role.USER, tag=TAG, body=CreateNfo, response=NfoWritten, status=201,
       errors=[404, 409, 502, 503])
def create_nfo(request: Request, kind: str, tmdb_id: str) -> Response:
    """Write the NFO (tvshow.nfo/movie.nfo, and each episode's) and TMDB's poster, fanart and logo.

    409 if it exists, unless overwrite."""
    media_kind, number = handlers.title_of(kind, tmdb_id)
    req: CreateNfo = parse(CreateNfo, json_body(request))
    who = caller(request)
    done = services().sidecars.create(who.user_id, who.username, media_kind, number, handlers.options_of(req),
                                      overwrite=req.overwrite)
    return respond(done, 201)


@route(blueprint, _NFO, ["PUT"], role=Role.USER, tag=TAG, body=RefreshNfo, response=NfoWritten,
       errors=[404, 409, 502, 503])
def refresh_nfo(request: Request, kind: str, tmdb_id: str) -> dict[str, Any]:
    """Write an existing NFO again with TMDB's current data (404 if there is none yet: POST creates it)."""
    media_kind, number = handlers.title_of(kind, tmdb_id)
    req: RefreshNfo = parse(RefreshNfo, json_body(request))
    who = caller(request)
    return services().sidecars.refresh(who.user_id, who.username, media_kind, number, handlers.options_of(req))


@route(blueprint, _NFO + "/content", ["GET"], tag=TAG, response=NfoContent, errors=[404, 409, 422])
def nfo_content(request: Request, kind: str, tmdb_id: str) -> dict[str, Any]:
    """The NFO's XML, its size and when it was written."""
    media_kind, number = handlers.title_of(kind, tmdb_id)
    return services().sidecars.content(caller(request).user_id, media_kind, number)
