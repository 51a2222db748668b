"""Builds the provider service from the container's parts (chalicelib/container.py calls it)."""

from __future__ import annotations

from ...adapters import safehttp
from ...adapters.urlguard import UrlGuard
from ...config import Config
from ...notify.crypto import SecretBox
from ...notify.wiring import key_material
from .cache import ResponseCache
from .http import ProviderHttp
from .pacing import SharedPacer
from .persistence import CacheItems, PaceSlots, ProviderSettingsItems
from .service import ProviderService


def build_http(guard: UrlGuard) -> ProviderHttp:
    """The HTTP side every provider and indexer shares: a pinned session of its own, the
    stage-wide rate limits and the two-level response cache."""
    return ProviderHttp(safehttp.session(guard, pool_connections=4, pool_maxsize=8), guard,
                        ResponseCache(CacheItems()), SharedPacer(PaceSlots()))


def build_providers(config: Config, guard: UrlGuard) -> ProviderService:
    # The keys are sealed with the same stage key as the notification targets' secrets.
    return ProviderService(ProviderSettingsItems(), SecretBox(key_material(config)), build_http(guard), guard)
