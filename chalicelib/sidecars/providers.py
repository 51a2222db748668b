"""The sidecars' TMDB source over the metadata providers' TMDB client
(chalicelib/metadata/providers/): its answers as TMDB's JSON, its errors as the sidecars'.

Every request (the details, a season, the logos, an image's bytes) goes through the providers'
HTTP side: the SSRF guard on each hop, the shared rate limit, the cache, a size cap.
"""

from __future__ import annotations

from typing import Any

from ..api.errors import ApiError
from ..metadata.providers.errors import ProviderNotConfigured, ProviderNotFound
from ..metadata.providers.service import ProviderService
from ..metadata.providers.tmdb import TmdbClient
from .models import Kind
from .sources import Image, NotConfigured, SourceFailed

APPEND = ("external_ids", "credits", "images")


class TmdbSource:
    """:class:`~.sources.Details` and :class:`~.sources.Images` over the TMDB client."""

    def __init__(self, providers: ProviderService) -> None:
        self.providers = providers

    def _client(self) -> TmdbClient:
        try:
            return self.providers.tmdb()
        except ProviderNotConfigured as exc:
            raise NotConfigured(exc.setting) from None

    def configuration(self) -> dict[str, Any]:
        """TMDB's /configuration (the image sizes), its images where the ``tmdb.image_base_url``
        setting says (the one :meth:`fetch` accepts)."""
        client = self._client()
        found = dict(client.configuration())
        images = found.get("images")
        found["images"] = {**(images if isinstance(images, dict) else {}),
                           "secure_base_url": client.settings.image_base_url}
        return found

    def details(self, kind: Kind, tmdb_id: int) -> dict[str, Any]:
        try:
            return dict(self._client().details(kind.value, tmdb_id, APPEND).raw or {})
        except ProviderNotFound as exc:
            raise SourceFailed(exc.message, not_found=True) from None

    def season(self, tmdb_id: int, season: int) -> dict[str, Any]:
        try:
            return dict(self._client().season(tmdb_id, season).raw or {})
        except ProviderNotFound as exc:
            raise SourceFailed(exc.message, not_found=True) from None

    def fetch(self, url: str) -> Image:
        """An image TMDB named (``<image_base_url>/<size>/<path>``): its bytes, through the guard."""
        client = self._client()
        base = client.settings.image_base_url.rstrip("/") + "/"
        size, _, path = url.removeprefix(base).partition("/")
        if not url.startswith(base) or not size or not path:
            raise SourceFailed(f"{url} is not one of TMDB's images")
        try:
            body, content_type = client.fetch_image("/" + path, size)
        except ApiError as exc:  # refused by the guard, too large, failed, busy: a warning, not a failure
            raise SourceFailed(exc.message) from None
        return Image(body, content_type)
