"""Builds the feeds service from the container's parts (chalicelib/container.py calls it)."""

from __future__ import annotations

from ..activity.log import ActivityLog
from ..adapters import safehttp
from ..adapters.sqs import WorkQueue
from ..adapters.urlguard import UrlGuard
from ..config import Config
from ..downloads.service import DownloadService
from ..persistence.hostslots import DynamoHostSlots
from ..settings.store import SettingsStore
from .events import FeedEvents
from .fetch import FeedFetcher
from .persistence import FeedRepository
from .service import FeedService


def build_feeds(config: Config, guard: UrlGuard, downloads: DownloadService, settings: SettingsStore,
                activity: ActivityLog, queue: WorkQueue, events: FeedEvents | None = None) -> FeedService:
    # A session of its own, pinned like the origins' (chalicelib/adapters/safehttp.py): few connections.
    fetcher = FeedFetcher(safehttp.session(guard, pool_connections=4, pool_maxsize=8), guard)
    return FeedService(
        FeedRepository(), fetcher, downloads, settings, activity, queue, events or FeedEvents(activity),
        DynamoHostSlots(),
        minute_seconds=config.feed_minute_seconds,
    )
