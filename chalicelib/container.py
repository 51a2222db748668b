"""Wires the engine together once per process: the one place clients are created."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter

from .aws import AwsClients, make_clients
from .config import Config
from .dispatcher import Dispatcher
from .origin import OriginClient
from .reconciler import Reconciler
from .repository import TaskRepository
from .service import DownloadService
from .settings import SettingsStore
from .storage import ObjectStore
from .transfer import Transfer
from .urlguard import UrlGuard
from .workqueue import WorkQueue


@dataclass(frozen=True)
class Services:
    config: Config
    clients: AwsClients
    repo: TaskRepository
    store: ObjectStore
    queue: WorkQueue
    settings: SettingsStore
    dispatcher: Dispatcher
    transfer: Transfer
    downloads: DownloadService
    reconciler: Reconciler


def http_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=64, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "Haul/0.1 (+serverless download manager)"
    return session


def build(config: Config, clients: AwsClients | None = None, session: requests.Session | None = None) -> Services:
    clients = clients or make_clients(config)
    guard = UrlGuard(config.allow_private_networks)
    repo = TaskRepository()
    store = ObjectStore(clients.s3, config.bucket)
    queue = WorkQueue(clients.sqs, config.work_queue)
    settings = SettingsStore()
    dispatcher = Dispatcher(repo, queue, settings)
    origin = OriginClient(session or http_session(), guard)
    transfer = Transfer(
        repo, store, queue, origin, settings, dispatcher,
        visibility_timeout=config.visibility_timeout,
        progress_interval=config.progress_interval,
    )
    return Services(
        config=config,
        clients=clients,
        repo=repo,
        store=store,
        queue=queue,
        settings=settings,
        dispatcher=dispatcher,
        transfer=transfer,
        downloads=DownloadService(repo, store, dispatcher, settings, guard),
        reconciler=Reconciler(repo, queue, dispatcher, config.stall_timeout),
    )


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """This process's services, built on first use (a Lambda sandbox reuses them)."""
    global _services
    with _lock:
        if _services is None:
            _services = build(Config.from_env())
        return _services
