"""Wires the engine together once per process: the one place clients are created."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
import requests

from .activity.log import ActivityLog
from .adapters import safehttp
from .adapters.aws import AwsClients, fast_item_parsing, make_clients
from .adapters.origin import OriginClient
from .adapters.s3 import ObjectStore
from .adapters.sqs import WorkQueue
from .adapters.urlguard import UrlGuard
from .auth.accounts import Accounts, login_failure_recorder
from .auth.apikeys import ApiKeys
from .auth.ratelimit import RateLimiter
from .auth.sessions import Sessions
from .auth.setuptoken import setup_gate
from .auth.tokens import Tokens, key_source
from .config import Config
from .downloads.admission.service import Admission
from .downloads.batches import BatchService
from .downloads.service import DownloadService
from .engine.dispatcher import Dispatcher
from .engine.queuecontrol import QueueControl
from .engine.reconciler import Reconciler
from .feeds.events import use_realtime
from .feeds.handlers import search_messages
from .feeds.service import FeedService
from .feeds.wiring import build_feeds
from .health.service import HealthService
from .health.wiring import build_health
from .jobs.service import JobService
from .jobs.wiring import build_jobs
from .metadata.persistence import KeyClaims, NamingStore
from .metadata.providers.service import ProviderService
from .metadata.providers.wiring import build_providers
from .metadata.service import KeyPlanner
from .notify.feeds import NotifyingFeedEvents
from .notify.service import NotifyService
from .notify.wiring import build_notify, job_failed
from .observability import tracing
from .persistence.activity import DynamoActivity
from .persistence.admission import DynamoAdmissionStore
from .persistence.apikeys import DynamoApiKeys
from .persistence.batches import DynamoBatches
from .persistence.connections import DynamoConnections
from .persistence.hostslots import DynamoHostSlots
from .persistence.lease import DynamoLease
from .persistence.listing import DynamoTaskPages
from .persistence.queue import DynamoQueueState
from .persistence.ratelimits import DynamoRateCounters
from .persistence.rooms import DynamoTaskReads
from .persistence.sessions import DynamoSessions
from .persistence.settings import DynamoSettingsVersions
from .persistence.signingkey import DynamoSigningKey
from .persistence.stats import DynamoCounters
from .persistence.tasks import DynamoTasks
from .persistence.throttle import DynamoThrottle
from .persistence.users import DynamoUsers
from .persistence.waiting import WaitingOwners
from .persistence.warm import warm_tables
from .realtime.auth import use_accounts
from .realtime.wiring import Realtime, RealtimeStores, build_realtime, push_notification
from .search.service import SmartSearchService
from .search.wiring import build_search
from .settings.store import SettingsStore
from .setup.service import SetupService
from .setup.wiring import build_setup
from .sidecars.service import SidecarService
from .sidecars.wiring import build_sidecars
from .stats.store import StatsStore
from .transfer import Transfer


@dataclass(frozen=True)
class Services:
    config: Config
    clients: AwsClients
    repo: DynamoTasks
    store: ObjectStore
    queue: WorkQueue
    settings: SettingsStore
    dispatcher: Dispatcher
    transfer: Transfer
    downloads: DownloadService
    reconciler: Reconciler
    accounts: Accounts
    activity: ActivityLog
    queue_control: QueueControl  # start/stop/timed pause of the whole queue
    stats: StatsStore
    batches: BatchService
    jobs: JobService  # scheduled jobs (chalicelib/jobs/)
    feeds: FeedService  # feed subscriptions and rules (chalicelib/feeds/)
    notify: NotifyService  # notifications (chalicelib/notify/)
    health: HealthService  # GET /health/detailed (chalicelib/health/)
    setup: SetupService  # the first-run wizard (chalicelib/setup/)
    providers: ProviderService  # metadata providers: TMDB, MusicBrainz (chalicelib/metadata/providers/)
    search: SmartSearchService  # smart search and smart grab (chalicelib/search/)
    sidecars: SidecarService  # the library's NFO files and artwork (chalicelib/sidecars/)
    keys: KeyPlanner  # naming: keys from metadata and templates, claimed unique (chalicelib/metadata/)


def http_session(guard: UrlGuard) -> requests.Session:
    """The origin client's session: connections pinned to checked addresses (chalicelib/adapters/safehttp.py)."""
    return safehttp.session(guard)


def build_accounts(config: Config, settings: SettingsStore, activity: ActivityLog) -> Accounts:
    def secrets() -> Any:
        return boto3.session.Session(region_name=config.region).client("secretsmanager")

    keys = key_source(config.jwt_secret_name, secrets, DynamoSigningKey())
    return Accounts(
        DynamoUsers(),
        Tokens(keys, config.access_token_seconds),
        Sessions(DynamoSessions(), config.refresh_token_seconds),
        ApiKeys(DynamoApiKeys()),
        RateLimiter(DynamoRateCounters()),
        config.rate_limit_per_minute,
        key_days=lambda: settings.get().api_key_days,
        setup_gate=setup_gate(config.setup_token_secret_name, secrets),
        on_session_end=_close_connections,
        on_login_failed=login_failure_recorder(activity),
    )


def _close_connections(user_id: str, session_id: str | None) -> None:
    """A login session ended (or all of a user's): close its WebSocket connections."""
    realtime().ending.close(user_id, session_id)


def dynamodb_client(config: Config) -> Any:
    """A low-level DynamoDB client (the statistics counters and batch summaries: ADD updates
    on attributes PynamoDB's models do not declare)."""
    from botocore.config import Config as BotoConfig

    return fast_item_parsing(boto3.session.Session(region_name=config.region).client(
        "dynamodb", config=BotoConfig(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=32,
                                      connect_timeout=5, read_timeout=20),
    ))


def build(config: Config, clients: AwsClients | None = None, session: requests.Session | None = None) -> Services:
    tracing.install()  # X-Ray subsegments for S3, SQS, DynamoDB and origin calls (a no-op outside Lambda)
    clients = clients or make_clients(config)
    guard = UrlGuard(config.allow_private_networks, own_ports=config.own_ports)
    ddb = dynamodb_client(config)
    waiting = WaitingOwners(ddb, config.control_table)
    repo = DynamoTasks(waiting)
    store = ObjectStore(clients.s3, config.bucket)
    queue = WorkQueue(clients.sqs, config.work_queue)
    settings = SettingsStore(DynamoSettingsVersions())
    activity = ActivityLog(settings, DynamoActivity(), repo)
    control = DynamoQueueState()
    dispatcher = Dispatcher(repo, queue, settings, control=control, activity=activity, waiting=waiting,
                            lease=DynamoLease(), kick_by_message=config.kick_by_message)
    origin = OriginClient(session or http_session(guard), guard)
    keys = KeyPlanner(store, NamingStore(), KeyClaims(), lambda task_id: _keys_of(repo, task_id))
    transfer = Transfer(
        repo, store, queue, origin, settings, dispatcher,
        hosts=DynamoHostSlots(),
        visibility_timeout=config.visibility_timeout,
        progress_interval=config.progress_interval,
        name_key=keys.start_key,
    )
    stats = StatsStore(DynamoCounters(ddb, config.stats_table, config.batches_table), repo)
    downloads = DownloadService(
        repo, store, dispatcher, settings, guard, activity, DynamoTaskPages(), stats.recent_gauge, keys
    )
    transfer.ctx.on_stored = downloads.settle_target  # a rename asked for during the transfer
    transfer.ctx.chain_starts = config.chain_starts  # a finishing worker starts the next download itself
    accounts = build_accounts(config, settings, activity)
    queue_control = QueueControl(control, dispatcher, queue, activity)
    notify = build_notify(config, clients.sqs, guard, safehttp.session(guard, pool_connections=4, pool_maxsize=8),
                          push=_push_notification)
    batches = BatchService(
        DynamoBatches(ddb, config.batches_table), repo, downloads, activity,
        Admission(DynamoAdmissionStore(ddb), dispatcher, guard, activity, stats.recent_gauge,
                  downloads.planned_key),
    )
    providers = build_providers(config, guard)
    feeds = build_feeds(config, guard, downloads, settings, activity, queue, NotifyingFeedEvents(activity, notify))
    return Services(
        config=config,
        clients=clients,
        repo=repo,
        store=store,
        queue=queue,
        settings=settings,
        dispatcher=dispatcher,
        transfer=transfer,
        downloads=downloads,
        reconciler=Reconciler(repo, queue, dispatcher, config.stall_timeout, activity=activity,
                              fail=transfer.fail, settings=settings),
        accounts=accounts,
        activity=activity,
        queue_control=queue_control,
        stats=stats,
        batches=batches,
        jobs=build_jobs(config, clients.sqs, downloads=downloads, queue_control=queue_control, settings=settings,
                        origin=origin, accounts=accounts, feeds=feeds.refresh_summary, notify=notify.send_to_own,
                        on_failure=job_failed(notify)),
        feeds=feeds,
        notify=notify,
        health=build_health(config, clients, ddb),
        setup=build_setup(accounts, clients.s3, config.bucket, repo, feeds, notify, guard),
        providers=providers,
        search=build_search(providers, feeds, batches),
        sidecars=build_sidecars(clients.s3, config.bucket, providers, queue, activity),
        keys=keys,
    )


def _keys_of(repo: DynamoTasks, task_id: str) -> tuple[str | None, ...]:
    task = repo.get(task_id)
    return (task.key, task.target) if task is not None else ()


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """This process's services, built on first use (a Lambda sandbox reuses them)."""
    global _services
    with _lock:
        if _services is None:
            _services = build(Config.from_env())
        return _services


def warm() -> Services:
    """Build this process's services, every table's DynamoDB client (chalicelib/persistence/warm.py
    ``warm_tables``) and the real-time side (its WebSocket management client: a botocore model
    load the first stream record paid, during the first download) now. What starts a process to
    serve requests calls this before taking the first: the local worker and API.
    """
    svc = services()
    warm_tables()
    realtime()
    return svc


# -- the real-time side (chalicelib/realtime/): built here once per process, like the services ---

_realtime_lock = threading.Lock()
_realtime: Realtime | None = None


def _search_feeds(identity: Any, args: dict[str, Any], ref: Any) -> Any:
    """The WebSocket ``search`` action: feed items (chalicelib/feeds/handlers.py)."""
    return search_messages(services().feeds, identity, args, ref)


def _realtime_stores() -> RealtimeStores:
    """What the real-time side keeps in DynamoDB (chalicelib/persistence/) and its rate limiter."""
    return RealtimeStores(connections=DynamoConnections(), reads=DynamoTaskReads(), throttle=DynamoThrottle(),
                          limiter=RateLimiter(DynamoRateCounters()))


def _push_notification(owner: str, data: dict[str, Any]) -> None:
    """The notification service's WebSocket push: a ``notification`` to the owner's ``notifications`` room."""
    rt = realtime()
    push_notification(rt.store, rt.publishers.default(), owner, data)


def realtime() -> Realtime:
    """This process's real-time services, built on first use."""
    global _realtime
    with _realtime_lock:
        if _realtime is None:
            _realtime = build_realtime(Config.from_env(), _realtime_stores(), searcher=_search_feeds)
        return _realtime


def reset_realtime() -> None:
    """Forget the built real-time services (tests that change the configuration)."""
    global _realtime
    with _realtime_lock:
        _realtime = None


# A WebSocket connection's token is checked by the accounts (chalicelib/realtime/auth.py); feed
# events are pushed to the owners' connections (chalicelib/feeds/events.py).
use_accounts(lambda: services().accounts)
use_realtime(realtime)
