"""Metadata providers (issue #18): their settings and the /metadata lookups. The logic is in
chalicelib/metadata/providers/ (docs/metadata.md).

A provider that is not configured answers 503 ``PROVIDER_NOT_CONFIGURED`` naming the setting
that is missing; a provider that cannot be reached or answers nonsense, 502; its rate limit
full for longer than a request may wait, 503 with ``Retry-After``.
"""

from __future__ import annotations

import re
from typing import Any

from chalice import Blueprint
from chalice.app import Request

from chalicelib.api.errors import ValidationFailed, field_error
from chalicelib.api.schemas import parse
from chalicelib.auth.identity import Role
from chalicelib.container import services
from chalicelib.metadata.providers.errors import ProviderNotFound
from chalicelib.metadata.providers.models import TMDB
from chalicelib.metadata.providers.schemas import (
    DetailsView,
    MetadataSearchAnswer,
    MetadataSearchQuery,
    ProvidersPatch,
    ProvidersView,
    RecordingQuery,
    SeasonView,
    TrackView,
    details_view,
)

from .http import caller, json_body, query, route

blueprint = Blueprint(__name__)
TAG = "metadata"
PROVIDER_ERRORS = [502, 503]
_MBID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _number(name: str, value: str, low: int = 0, high: int = 10**9) -> int:
    if not value.isdigit() or not low <= int(value) <= high:
        raise field_error(name, f"must be a whole number from {low} to {high}")
    return int(value)


def _tmdb_kind(kind: str) -> str:
    if kind not in ("movie", "tv"):
        raise field_error("kind", "must be movie or tv")
    return kind


@route(blueprint, "/settings/providers", ["GET"], role=Role.ADMIN, tag=TAG, response=ProvidersView)
def get_provider_settings(request: Request) -> dict[str, Any]:
    """The metadata providers' and indexers' settings and the quality preference (admins); keys show
    only as `api_key_set`."""
    return services().providers.view()


@route(blueprint, "/settings/providers", ["PATCH"], role=Role.ADMIN, tag=TAG, body=ProvidersPatch,
       response=ProvidersView, errors=[409])
def patch_provider_settings(request: Request) -> dict[str, Any]:
    """Change provider settings (admins): only the fields given; `indexers` replaces the list;
    `api_key: ""` removes a key."""
    return services().providers.patch(caller(request), json_body(request))


@route(blueprint, "/metadata/search", ["GET"], tag=TAG, query=MetadataSearchQuery, response=MetadataSearchAnswer,
       errors=PROVIDER_ERRORS)
def search_metadata(request: Request) -> dict[str, Any]:
    """Search a provider: TMDB movies or series (`kind=movie|tv`), MusicBrainz recordings or releases."""
    q: MetadataSearchQuery = parse(MetadataSearchQuery, query(request), "query")
    kind = q.kind or ("tv" if q.provider == TMDB else "recording")
    provider = services().providers.provider(q.provider)
    if kind not in provider.kinds:
        raise ValidationFailed(f"invalid query: kind: {q.provider} searches {', '.join(provider.kinds)}",
                               [{"field": "kind", "message": f"{q.provider} searches {', '.join(provider.kinds)}"}])
    results = provider.search(q.q, kind, q.year, q.limit)
    return {"provider": q.provider, "kind": kind, "query": q.q, "results": [r.view() for r in results]}


@route(blueprint, "/metadata/tmdb/{kind}/{tmdb_id}", ["GET"], tag=TAG, response=DetailsView,
       errors=[404, 422, *PROVIDER_ERRORS])
def tmdb_details(request: Request, kind: str, tmdb_id: str) -> dict[str, Any]:
    """A movie's or series' details from TMDB (`kind`: movie or tv), with IMDb/TheTVDB ids, genres and seasons."""
    kind, ident = _tmdb_kind(kind), _number("tmdb_id", tmdb_id, 1)
    return details_view(services().providers.tmdb().details(kind, ident))


@route(blueprint, "/metadata/tmdb/{kind}/{tmdb_id}/season/{season}", ["GET"], tag=TAG, response=SeasonView,
       errors=[404, 422, *PROVIDER_ERRORS])
def tmdb_season(request: Request, kind: str, tmdb_id: str, season: str) -> dict[str, Any]:
    """A series' season from TMDB with its episodes (`kind` is tv)."""
    if kind != "tv":
        raise field_error("kind", "only a tv series has seasons")
    ident, number = _number("tmdb_id", tmdb_id, 1), _number("season", season, 0, 1000)
    return details_view(services().providers.tmdb().season(ident, number))


@route(blueprint, "/metadata/tmdb/{kind}/{tmdb_id}/images", ["GET"], tag=TAG, errors=[404, 422, *PROVIDER_ERRORS])
def tmdb_images(request: Request, kind: str, tmdb_id: str) -> dict[str, Any]:
    """Posters, backdrops (fanart) and logos of a movie or series from TMDB, best first, with their URLs."""
    kind, ident = _tmdb_kind(kind), _number("tmdb_id", tmdb_id, 1)
    return services().providers.tmdb().images(kind, ident).view()


@route(blueprint, "/metadata/musicbrainz/recording", ["GET"], tag=TAG, query=RecordingQuery, response=TrackView,
       errors=[404, *PROVIDER_ERRORS])
def musicbrainz_recording(request: Request) -> dict[str, Any]:
    """A track's metadata from MusicBrainz in Sharktooth's `GET /metadata` shape, with its cover.

    Artists, album, disc/track, release date."""
    q: RecordingQuery = parse(RecordingQuery, query(request), "query")
    client = services().providers.musicbrainz()
    track = client.recording(q.artist, q.track)
    view = track.view()
    if q.cover and track.release_id:
        cover = client.cover(track.release_id)
        view["cover_url"] = cover.front_url if cover else None
    return view


@route(blueprint, "/metadata/musicbrainz/release/{release_id}/cover", ["GET"], tag=TAG,
       errors=[404, 422, *PROVIDER_ERRORS])
def musicbrainz_cover(request: Request, release_id: str) -> dict[str, Any]:
    """A release's cover art from the Cover Art Archive (404 when it has none)."""
    if not _MBID.match(release_id):
        raise field_error("release_id", "must be a MusicBrainz id (a UUID)")
    cover = services().providers.musicbrainz().cover(release_id)
    if cover is None:
        raise ProviderNotFound(f"the release {release_id} has no cover art")
    return cover.view()

