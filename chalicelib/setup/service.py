"""The setup wizard: what a fresh install still needs, and the checks a new user runs
before the first admin exists.

Open only while no user exists (afterwards every POST answers 403; ``GET /setup/status``
says it is done). The steps:

- ``admin`` (required): the first admin, made by ``POST /setup/complete`` (which closes the
  wizard: the same account creation as ``POST /auth/setup``);
- ``storage`` (required): the bucket answers;
- ``test_download`` (recommended): a download has completed (the web app does one right
  after setup, as the new admin);
- ``feed`` and ``notification`` (optional): a feed or a notification target was tried here
  (``/setup/test-feed``, ``/setup/test-notification``) or exists.

Nothing a check sends is stored: a feed is read, a notification sent, and only the fact
that it worked is remembered (the control table, through chalicelib/setup/persistence.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..api.errors import ApiError, Forbidden, ValidationFailed
from ..auth.identity import Identity, Role
from ..auth.schemas import Setup
from ..notify import signing
from ..notify.senders import BadTarget, check_apprise_url, check_webhook_url
from ..realtime.messages import timestamp
from .models import Complete, TestFeed, TestNotification
from .persistence import SetupMarks

# Whom the wizard's checks act as before any user exists: no user has this id.
WIZARD = Identity(user_id="setup-wizard", username="setup-wizard", role=Role.USER, via="setup")


class SetupService:
    def __init__(self, accounts: Any, marks: SetupMarks, storage_ok: Callable[[], str | None],
                 completed_downloads: Callable[[], bool], feed_check: Callable[[Identity, str], dict[str, Any]],
                 senders: Any, guard: Any, check_token: Callable[[str | None], None] | None = None) -> None:
        self.accounts = accounts
        self.marks = marks
        self.storage_ok = storage_ok  # None when the bucket answers, else why not
        self.completed_downloads = completed_downloads
        self.feed_check = feed_check
        self.senders = senders
        self.guard = guard
        # The deployed stage's one-time setup token (the same check as POST /auth/setup).
        self.check_token = check_token

    def is_open(self) -> bool:
        return bool(self.accounts.setup_required())

    def gate(self, token: str | None) -> None:
        if not self.is_open():
            raise Forbidden("setup is done: an admin exists; log in instead")
        if self.check_token is not None:
            self.check_token(token)

    def status(self) -> dict[str, Any]:
        open_ = self.is_open()
        marks = self.marks.read()
        storage_error = self.storage_ok()
        steps = [
            {"name": "admin", "required": True, "done": not open_,
             "hint": "create the first admin with POST /setup/complete"},
            {"name": "storage", "required": True, "done": storage_error is None,
             "hint": storage_error or "the bucket answers"},
            {"name": "test_download", "required": False, "done": self.completed_downloads(),
             "hint": "add a small download and watch it complete"},
            {"name": "feed", "required": False, "done": bool(marks.get("feed")),
             "hint": "try a feed with POST /setup/test-feed"},
            {"name": "notification", "required": False, "done": bool(marks.get("notification")),
             "hint": "try a notification with POST /setup/test-notification"},
        ]
        gate = getattr(self.accounts, "setup_gate", None)
        return {"open": open_, "complete": not open_, "token_required": bool(getattr(gate, "required", False)),
                "steps": steps,
                "needs": [s["name"] for s in steps if not s["done"]]}

    def test_feed(self, req: TestFeed, token: str | None) -> dict[str, Any]:
        self.gate(token)
        try:
            found = self.feed_check(WIZARD, req.url)
        except ApiError as exc:
            return {"ok": False, "error": exc.message}
        self.marks.note("feed")
        items = found.get("items") or []
        return {"ok": True, "title": found.get("title"), "total_items": found.get("total_items", len(items)),
                "sample": [i.get("title") for i in items[:5]]}

    def test_notification(self, req: TestNotification, token: str | None) -> dict[str, Any]:
        self.gate(token)
        try:
            (check_webhook_url if req.kind == "webhook" else check_apprise_url)(req.url, self.guard)
        except BadTarget as exc:
            raise ValidationFailed(f"url: {exc}", [{"field": "url", "message": str(exc)}]) from None
        title, message = "Haul test notification", "This is a test from Haul's setup wizard."
        if req.kind == "webhook":

            payload = signing.body("setup-test", "test", timestamp(), title, message, "info", {})
            result = self.senders.webhook(req.url, req.secret, {}, "setup-test", "test", payload)
        else:
            result = self.senders.apprise(req.url, title, message)
        if result.ok:
            self.marks.note("notification")
        return {"ok": result.ok, "status": result.status, "response": result.detail}

    def complete(self, req: Complete, token: str | None) -> dict[str, Any]:
        """Create the first admin and log them in; the wizard closes."""
        self.gate(token)
        grant = self.accounts.setup(Setup(username=req.username, password=req.password,
                                          setup_token=req.setup_token or token))
        self.marks.note("completed")
        return grant.view()
