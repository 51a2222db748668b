"""Haul's Chalice app: wiring only. Routes and handlers live in functions/, logic in chalicelib/."""

from __future__ import annotations

from typing import Any

from chalice import Chalice, Rate
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib.config import Config
from chalicelib.logs import configure_logging
from functions import api, scheduler, worker

CONFIG = Config.from_env()

app = Chalice(app_name="haul", configure_logs=False)
configure_logging()
app.register_blueprint(api.blueprint, url_prefix="/api/v1")


@app.on_sqs_message(queue=CONFIG.work_queue, batch_size=1)
def work(event: SQSEvent) -> dict[str, Any]:
    return worker.handle(event)


@app.on_sqs_message(queue=CONFIG.work_dlq, batch_size=1)
def dead_letters(event: SQSEvent) -> dict[str, Any]:
    return worker.handle_dead_letters(event)


@app.schedule(Rate(1, unit=Rate.MINUTES))
def reconcile(event: CloudWatchEvent) -> None:
    scheduler.tick()
