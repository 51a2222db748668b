"""Builds the smart search service (chalicelib/container.py calls it)."""

from __future__ import annotations

from ..downloads.batches import BatchService
from ..feeds.service import FeedService
from ..metadata.providers.service import ProviderService
from .service import SmartSearchService


def build_search(providers: ProviderService, feeds: FeedService, batches: BatchService) -> SmartSearchService:
    # Indexers share the providers' HTTP side: the SSRF guard, rate limits and cache.
    return SmartSearchService(providers, feeds, batches, providers.http)
