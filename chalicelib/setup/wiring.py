"""Builds the setup wizard's service (called by chalicelib/container.py)."""

from __future__ import annotations

from typing import Any

from ..api.schemas import parse
from ..auth.identity import Identity
from ..domain.states import TaskState
from ..feeds.schemas import Analyse
from .persistence import SetupMarks
from .service import SetupService


def build_setup(accounts: Any, s3: Any, bucket: str, repo: Any, feeds: Any, notify: Any, guard: Any) -> SetupService:
    def storage_ok() -> str | None:
        try:
            s3.head_bucket(Bucket=bucket)
        except Exception as exc:  # noqa: BLE001 - any failure is what the step reports
            return f"the bucket {bucket} does not answer: {type(exc).__name__}"
        return None

    def feed_check(who: Identity, url: str) -> dict[str, Any]:

        return feeds.analyse(who, parse(Analyse, {"url": url, "limit": 5}))

    return SetupService(accounts, SetupMarks(), storage_ok,
                        lambda: bool(repo.ids_in_state(TaskState.COMPLETED, limit=1)), feed_check,
                        notify.senders, guard, check_token=lambda token: accounts.setup_gate.check(token))
