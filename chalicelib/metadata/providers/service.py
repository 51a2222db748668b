"""The provider settings (``GET``/``PATCH /settings/providers``) and the clients built from
them: :meth:`ProviderService.tmdb`, :meth:`ProviderService.musicbrainz`,
:meth:`ProviderService.provider` (the one interface), :meth:`ProviderService.indexers`.

Settings are read from DynamoDB at most every few seconds per process; the keys are sealed
at rest and never part of an answer (``api_key_set`` says whether one is stored).
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from ...adapters.urlguard import BlockedUrl, UrlGuard
from ...api.errors import Conflict, Forbidden, Unavailable, ValidationFailed
from ...api.schemas import parse
from ...auth.identity import Identity
from ...domain.clock import SYSTEM_CLOCK, Clock
from ...notify.crypto import KeyUnavailable, SecretBox
from .http import ProviderHttp
from .models import MUSICBRAINZ, TMDB, IndexerSettings, MetadataProvider, ProviderSettings, QualityPreference, Secrets
from .musicbrainz import MusicBrainzClient
from .persistence import ProviderSettingsItems
from .schemas import ProvidersPatch, QualityPatch
from .tmdb import TmdbClient

CACHE_SECONDS = 2.0
_ATTEMPTS = 5


class ProviderService:
    def __init__(self, items: ProviderSettingsItems, box: SecretBox, http: ProviderHttp, guard: UrlGuard,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self.items = items
        self.box = box
        self.http = http
        self.guard = guard
        self._clock = clock
        self._cached: tuple[float, ProviderSettings, Secrets, int] | None = None
        self._lock = threading.Lock()

    # -- reading ---------------------------------------------------------------------------
    def current(self, fresh: bool = False) -> tuple[ProviderSettings, Secrets, int]:
        with self._lock:
            if not fresh and self._cached and self._clock.monotonic() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1], self._cached[2], self._cached[3]
        raw, sealed, version = self.items.load()
        secrets = Secrets()
        if sealed:
            try:
                secrets = Secrets.of(self.box.open(sealed))
            except KeyUnavailable as exc:
                raise Unavailable(f"the provider keys cannot be opened: {exc}") from None
        settings = ProviderSettings.of(raw)
        with self._lock:
            self._cached = (self._clock.monotonic(), settings, secrets, version)
        return settings, secrets, version

    def settings(self) -> ProviderSettings:
        return self.current()[0]

    def quality(self) -> QualityPreference:
        return self.settings().quality

    def view(self) -> dict[str, Any]:
        settings, secrets, version = self.current()
        return view(settings, secrets, version)

    # -- the clients -------------------------------------------------------------------------
    def tmdb(self) -> TmdbClient:
        """The TMDB client; ProviderNotConfigured (503) naming ``tmdb.api_key`` without a key."""
        settings, secrets, _ = self.current()
        return TmdbClient(self.http, settings.tmdb, secrets.tmdb_api_key)

    def musicbrainz(self) -> MusicBrainzClient:
        """The MusicBrainz client; ProviderNotConfigured naming ``musicbrainz.contact`` without one."""
        return MusicBrainzClient(self.http, self.settings().musicbrainz)

    def provider(self, name: str) -> MetadataProvider:
        if name == TMDB:
            return self.tmdb()
        if name == MUSICBRAINZ:
            return self.musicbrainz()
        raise ValueError(f"no provider {name!r}")

    def indexers(self) -> list[tuple[IndexerSettings, str]]:
        """The enabled indexers with their keys ("" when none)."""
        settings, secrets, _ = self.current()
        return [(i, secrets.indexer_keys.get(i.name, "")) for i in settings.indexers if i.enabled]

    # -- changing ----------------------------------------------------------------------------
    def patch(self, who: Identity, body: Any) -> dict[str, Any]:
        if not who.is_admin:
            raise Forbidden("only an admin may change the provider settings")
        req: ProvidersPatch = parse(ProvidersPatch, body)
        self._check_urls(req)
        for _ in range(_ATTEMPTS):
            settings, secrets, version = self.current(fresh=True)
            settings, secrets = applied(settings, secrets, req)
            sealed = self.box.seal(secrets.stored()) if (secrets.tmdb_api_key or secrets.indexer_keys) else None
            if self.items.save(settings.stored(), sealed, version + 1, who.username, self._clock.now_ms()):
                with self._lock:
                    self._cached = None
                return view(settings, secrets, version + 1)
        raise Conflict("the provider settings kept changing under this request; send it again")

    def _check_urls(self, req: ProvidersPatch) -> None:
        urls: list[tuple[str, str | None]] = []
        if req.tmdb:
            urls += [("tmdb.base_url", req.tmdb.base_url), ("tmdb.image_base_url", req.tmdb.image_base_url)]
        if req.musicbrainz:
            urls += [("musicbrainz.base_url", req.musicbrainz.base_url),
                     ("musicbrainz.coverart_base_url", req.musicbrainz.coverart_base_url)]
        urls += [(f"indexers.{n}.url", i.url) for n, i in enumerate(req.indexers or [])]
        details = []
        for name, url in urls:
            if url is None:
                continue
            try:
                self.guard.check(url)
            except BlockedUrl as exc:
                details.append({"field": name, "message": str(exc)})
        if details:
            raise ValidationFailed(f"invalid body: {details[0]['field']}: {details[0]['message']}", details)


def applied(settings: ProviderSettings, secrets: Secrets, req: ProvidersPatch) -> tuple[ProviderSettings, Secrets]:
    """The settings and secrets with the request's changes (only the fields it gives)."""
    tmdb, mb, quality = settings.tmdb, settings.musicbrainz, settings.quality
    tmdb_key = secrets.tmdb_api_key
    if req.tmdb:
        given = req.tmdb.model_dump(exclude_unset=True)
        if "api_key" in given:
            tmdb_key = given.pop("api_key") or ""
        tmdb = replace(tmdb, **{k: v for k, v in given.items() if v is not None})
    if req.musicbrainz:
        mb = replace(mb, **{k: v for k, v in req.musicbrainz.model_dump(exclude_unset=True).items() if v is not None})
    if req.quality:
        quality = quality_with(quality, req.quality)
    indexers, keys = settings.indexers, dict(secrets.indexer_keys)
    if req.indexers is not None:
        kept: dict[str, str] = {}
        made = []
        for i in req.indexers:
            key = keys.get(i.name, "") if i.api_key is None else i.api_key
            if key:
                kept[i.name] = key
            made.append(IndexerSettings(name=i.name, url=i.url, categories=tuple(i.categories), enabled=i.enabled,
                                        requests_per_second=i.requests_per_second, cache_seconds=i.cache_seconds))
        indexers, keys = tuple(made), kept
    return (ProviderSettings(tmdb=tmdb, musicbrainz=mb, indexers=indexers, quality=quality),
            Secrets(tmdb_key, keys))


def quality_with(current: QualityPreference, patch: QualityPatch) -> QualityPreference:
    """The quality preference with the fields ``patch`` gives; 422 when the sizes cross."""
    changes: dict[str, Any] = {k: (tuple(v) if isinstance(v, list) else v)
                               for k, v in patch.model_dump(exclude_unset=True).items() if v is not None}
    result = replace(current, **changes)
    if result.min_size and result.max_size and result.min_size > result.max_size:
        raise ValidationFailed("invalid body: quality.max_size: must be at least quality.min_size",
                               [{"field": "quality.max_size", "message": "must be at least quality.min_size"}])
    return result


def view(settings: ProviderSettings, secrets: Secrets, version: int) -> dict[str, Any]:
    """What GET shows: every setting but the keys, and whether each key is set."""
    stored = settings.stored()
    return {
        "tmdb": {**stored["tmdb"], "api_key_set": bool(secrets.tmdb_api_key), "configured": bool(secrets.tmdb_api_key)},
        "musicbrainz": {**stored["musicbrainz"], "configured": bool(settings.musicbrainz.contact.strip())},
        "indexers": [
            {**i, "categories": list(i["categories"]), "api_key_set": bool(secrets.indexer_keys.get(i["name"]))}
            for i in stored["indexers"]
        ],
        "quality": {k: list(v) if isinstance(v, tuple) else v for k, v in stored["quality"].items()},
        "version": version,
    }

