"""Builds the sidecars service from the container's parts (chalicelib/container.py calls it)."""

from __future__ import annotations

from typing import Any

from ..activity.log import ActivityLog
from ..adapters.sqs import WorkQueue
from ..metadata.providers.service import ProviderService
from .persistence import DownloadsLibrary, SidecarObjects
from .providers import TmdbSource
from .service import SidecarService


def build_sidecars(s3: Any, bucket: str, providers: ProviderService, queue: WorkQueue,
                   activity: ActivityLog) -> SidecarService:
    tmdb = TmdbSource(providers)
    return SidecarService(DownloadsLibrary(), tmdb, tmdb, SidecarObjects(s3, bucket), queue, activity)
