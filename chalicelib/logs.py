"""Logging: one line per event, task transitions included."""

from __future__ import annotations

import logging
import os


def configure_logging() -> None:
    level = os.environ.get("HAUL_LOG_LEVEL", "INFO").upper()
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("haul").setLevel(level)
    for noisy in ("botocore", "urllib3", "pynamodb", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
