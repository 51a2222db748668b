"""Functional fixtures: moto's server on loopback, the real tables/queues/bucket, in-process
SQS pollers driving the real handlers of app.py, and real HTTP origins."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import pytest

from chalicelib.auth.identity import Identity, Role
from tests.support.feedserver import FeedServer
from tests.support.origin import Origin


@pytest.fixture(scope="session")
def emulator() -> Iterator[str]:
    from local_runtime.emulator.server import start_emulator

    server = start_emulator("127.0.0.1", int(os.environ["HAUL_TEST_AWS_PORT"]))
    from chalicelib.config import Config
    from infra.bootstrap import bootstrap

    bootstrap(Config.from_env(), boto3.session.Session())
    yield os.environ["AWS_ENDPOINT_URL"]
    server.stop()


@pytest.fixture(params=["fake", "dynamodb"])
def kind(request: pytest.FixtureRequest) -> str:
    """For the contract suites: each test runs against the in-memory fake, then DynamoDB."""
    if request.param == "dynamodb":
        request.getfixturevalue("emulator")
    return str(request.param)


@pytest.fixture()
def svc(emulator: str):
    """The process's services, with default settings and an empty work queue."""
    from chalicelib.container import services
    from chalicelib.persistence.models import ControlModel

    s = services()
    for item in ControlModel.scan():
        item.delete()
    s.settings._cached = None
    s.clients.sqs.purge_queue(QueueUrl=s.queue.url)
    return s


@pytest.fixture()
def workers(svc):
    """SQS pollers in this process invoking app.py's SQS handlers, as Lambda would."""
    import app as app_module
    from local_runtime.sqs_poller import SqsPoller, sqs_sources

    pollers = []
    for source in sqs_sources(app_module):
        threads = 4 if source.queue_name == svc.config.work_queue else 1
        poller = SqsPoller(
            svc.clients.sqs, source, threads, visibility_timeout=30, region=svc.config.region, wait_seconds=1
        )
        poller.start()
        pollers.append(poller)
    yield pollers
    for poller in pollers:
        poller.stop()


@pytest.fixture()
def origin() -> Iterator[Origin]:
    with Origin() as server:
        yield server


@pytest.fixture()
def settled(svc):
    """Nothing an earlier test left active holds a download slot, before or after."""
    from tests.support.engine import settle

    settle(svc)
    yield
    settle(svc)


@pytest.fixture()
def feed_server() -> Iterator[FeedServer]:
    """A feed server on loopback (tests/support/feedserver.py)."""
    with FeedServer() as server:
        yield server


@pytest.fixture()
def feed_owner() -> Identity:
    """A user of their own, who owns nothing yet."""
    name = f"feeder-{uuid.uuid4().hex[:8]}"
    return Identity(user_id=name, username=name, role=Role.USER)
