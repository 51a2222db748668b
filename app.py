"""Haul's Chalice app: wiring only. Routes and handlers live in functions/, logic in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, DynamoDBEvent, SQSEvent, WebsocketEvent

from chalicelib.config import Config
from chalicelib.observability.logs import configure_logging, log_context
from functions.queues import jobs as job_runs_queue
from functions.queues import notify as notify_queue
from functions.rest import (
    accounts,
    activity,
    batches,
    docs,
    downloads,
    feeds,
    health,
    jobs,
    library,
    metadata,
    naming,
    notify,
    queue,
    search,
    settings,
    setup,
    stats,
    webapp,
)
from functions.streams import activity as activity_stream
from functions.streams import fanout
from functions.streams import notify as notify_stream
from functions.streams import stats as stats_stream
from functions.timers import feeds as feeds_timer
from functions.timers import jobs as jobs_timer
from functions.timers import reconcile as reconcile_timer
from functions.websocket import handlers as websocket
from functions.worker import handlers as worker

CONFIG = Config.from_env()

app = Chalice(app_name="haul", configure_logs=False)
configure_logging()
# Every log line of an invocation carries its request id, task id and function name.
app.register_middleware(log_context, "all")
app.register_blueprint(downloads.blueprint, url_prefix="/api/v1")
app.register_blueprint(accounts.blueprint, url_prefix="/api/v1")
app.register_blueprint(docs.blueprint, url_prefix="/api/v1")
# The control surface (issue #5).
for _module in (batches, queue, settings, stats, activity):
    app.register_blueprint(_module.blueprint, url_prefix="/api/v1")
# The web app at / and its static files (issue #14, docs/webapp.md).
app.register_blueprint(webapp.blueprint)
# Scheduled jobs and notifications (issue #17).
app.register_blueprint(jobs.blueprint, url_prefix="/api/v1")
app.register_blueprint(notify.blueprint, url_prefix="/api/v1")
# The first-run setup wizard and the detailed health report (issue #17).
app.register_blueprint(setup.blueprint, url_prefix="/api/v1")
app.register_blueprint(health.blueprint, url_prefix="/api/v1")
# Feed subscriptions and rules (issue #16, docs/feeds.md).
app.register_blueprint(feeds.blueprint, url_prefix="/api/v1")
# Metadata providers (issue #18, docs/metadata.md).
app.register_blueprint(metadata.blueprint, url_prefix="/api/v1")
app.register_blueprint(search.blueprint, url_prefix="/api/v1")
# Naming settings: templates and category folders (issue #18, docs/library.md).
app.register_blueprint(naming.blueprint, url_prefix="/api/v1")
# The library's sidecars: NFO files and artwork next to a series or a movie (docs/library.md).
app.register_blueprint(library.blueprint, url_prefix="/api/v1")


@app.on_sqs_message(queue=CONFIG.work_queue, batch_size=1)
def work(event: SQSEvent) -> dict[str, Any]:
    return worker.handle(event)


@app.on_sqs_message(queue=CONFIG.work_dlq, batch_size=1)
def dead_letters(event: SQSEvent) -> dict[str, Any]:
    return worker.handle_dead_letters(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def reconcile(event: CloudWatchEvent) -> None:
    reconcile_timer.tick()


# -- scheduled jobs (chalicelib/jobs/): a per-minute tick queues each due run; a consumer runs it
@app.schedule(Rate(1, unit=Rate.MINUTES))
def job_tick(event: CloudWatchEvent) -> None:
    jobs_timer.tick()


@app.on_sqs_message(queue=CONFIG.jobs_queue, batch_size=1)
def job_runs(event: SQSEvent) -> dict[str, Any]:
    return job_runs_queue.handle_runs(event)


# Feeds: one tick claims the feeds that are due (from an index) and sends a work message per
# feed; the workers refresh them (functions/timers/feeds.py).
@app.schedule(Rate(1, unit=Rate.MINUTES))
def refresh_feeds(event: CloudWatchEvent) -> None:
    feeds_timer.tick()


# -- notifications (chalicelib/notify/): download events from the tasks stream, deliveries
# through their own queue (retries with backoff, then its dead-letter queue)
@app.on_dynamodb_record(**CONFIG.tasks_stream_source())
def notify_changes(event: DynamoDBEvent) -> None:
    notify_stream.handle_changes(event)


@app.on_sqs_message(queue=CONFIG.notify_queue, batch_size=1)
def notify_deliveries(event: SQSEvent) -> dict[str, Any]:
    return notify_queue.handle_deliveries(event)


# -- real-time: the WebSocket API and the change fan-out (docs/websocket.md) ---------------
# Chalice wraps WebSocket handlers only when they are registered on the app, not a blueprint.
app.experimental_feature_flags.update(["WEBSOCKETS"])


@app.on_ws_connect()
def ws_connect(event: WebsocketEvent) -> dict[str, Any]:
    return websocket.connect(event)


@app.on_ws_message()
def ws_message(event: WebsocketEvent) -> None:
    websocket.message(event)


@app.on_ws_disconnect()
def ws_disconnect(event: WebsocketEvent) -> None:
    websocket.disconnect(event)


# Three functions read the tasks table's stream, each at its own pace with its own retries:
# the WebSocket fan-out, the statistics counters and the activity log.
@app.on_dynamodb_record(**CONFIG.tasks_stream_source())
def fanout_changes(event: DynamoDBEvent) -> None:
    fanout.handle(event)


# -- statistics and batch summaries: counters kept from the tasks table's stream (functions/streams/stats.py)
# Big batches: the records of a batch are merged into one ADD per counter, so 1,000 records (a
# bulk add) cost ~30 writes where ten batches of 100 cost ~190.
@app.on_dynamodb_record(**CONFIG.tasks_stream_source(batch_size=1000))
def aggregate_changes(event: DynamoDBEvent) -> None:
    stats_stream.handle_changes(event)


# -- activity log: state transitions from the tasks table's stream (functions/streams/activity.py)
@app.on_dynamodb_record(**CONFIG.tasks_stream_source())
def log_changes(event: DynamoDBEvent) -> None:
    activity_stream.handle_changes(event)
