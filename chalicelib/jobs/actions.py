"""What a job does: the actions, their parameters, and who may schedule them.

Pure: parameter models and rules, no I/O (the effects are in chalicelib/jobs/runner.py).

Who may manage a job (``may_manage``): an admin every job; another user only their own jobs
whose action touches only their own things. The actions that change what everyone shares
need an admin (``ADMIN_ACTIONS``): starting, stopping or pausing the queue and the global
speed limit. ``retry_failed`` and ``clear_history`` act on the owner's own downloads unless
``all_users`` is set, which needs an admin too; ``send_notification`` goes to the owner's
own targets (``target_ids`` of someone else's are refused when it runs).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..auth.identity import Identity
from ..downloads.schemas import AddDownload

MAX_URLS = 50


class ActionName(StrEnum):
    REFRESH_FEEDS = "refresh_feeds"
    QUEUE_START = "queue_start"
    QUEUE_STOP = "queue_stop"
    QUEUE_PAUSE = "queue_pause"
    SPEED_LIMIT = "speed_limit"
    RETRY_FAILED = "retry_failed"
    CLEAR_HISTORY = "clear_history"
    ADD_URLS = "add_urls"
    SEND_NOTIFICATION = "send_notification"


ADMIN_ACTIONS = frozenset({ActionName.QUEUE_START, ActionName.QUEUE_STOP, ActionName.QUEUE_PAUSE,
                           ActionName.SPEED_LIMIT})


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NoParams(_Params):
    pass


class RefreshFeeds(_Params):
    feed_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=100,
                                       description="the feeds to refresh; absent: all of the owner's")


class QueuePause(_Params):
    minutes: int = Field(ge=1, le=30 * 24 * 60, description="how long the queue pauses (it starts again by itself)")


class SpeedLimit(_Params):
    bytes_per_second: int = Field(ge=0, le=100 * 1024**3,
                                  description="the default speed limit of every download (0: none)")


class RetryFailed(_Params):
    all_users: bool = Field(default=False, description="every user's failed downloads (admins only)")


class ClearHistory(_Params):
    older_than_days: int = Field(ge=0, le=3650, description="finished this many days ago or more")
    states: list[str] = Field(default_factory=lambda: ["completed", "failed", "cancelled"], min_length=1)
    delete_files: bool = False
    all_users: bool = Field(default=False, description="every user's downloads (admins only)")

    @field_validator("states")
    @classmethod
    def _states(cls, value: list[str]) -> list[str]:
        names = [v.strip().lower() for v in value]
        bad = [n for n in names if n not in ("completed", "failed", "cancelled")]
        if bad:
            raise ValueError(f"must name finished states only (completed, failed, cancelled), not {', '.join(bad)}")
        return list(dict.fromkeys(names))


class AddUrls(_Params):
    urls: list[str] = Field(min_length=1, max_length=MAX_URLS)
    only_if_changed: bool = Field(
        default=True,
        description="skip a URL whose validator (ETag, else Last-Modified) is the one seen at the last run")
    category: str | None = Field(default=None, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("urls")
    @classmethod
    def _urls(cls, value: list[str]) -> list[str]:

        for url in value:
            try:
                AddDownload(url=url)
            except ValidationError as exc:
                raise ValueError(f"{url[:100]!r}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        return list(dict.fromkeys(value))


class SendNotification(_Params):
    title: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=2000)
    target_ids: list[Annotated[str, Field(max_length=64)]] | None = Field(default=None, max_length=50,
                                         description="the owner's targets to send to; absent: all of them")


PARAMS: dict[ActionName, type[_Params]] = {
    ActionName.REFRESH_FEEDS: RefreshFeeds,
    ActionName.QUEUE_START: NoParams,
    ActionName.QUEUE_STOP: NoParams,
    ActionName.QUEUE_PAUSE: QueuePause,
    ActionName.SPEED_LIMIT: SpeedLimit,
    ActionName.RETRY_FAILED: RetryFailed,
    ActionName.CLEAR_HISTORY: ClearHistory,
    ActionName.ADD_URLS: AddUrls,
    ActionName.SEND_NOTIFICATION: SendNotification,
}


class BadAction(ValueError):
    """An action or parameters that are not valid: ``field`` names where, the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def parse_action(name: Any, params: Any) -> tuple[ActionName, dict[str, Any]]:
    """The action and its parameters, validated and normalised; BadAction otherwise."""
    try:
        action = ActionName(name)
    except ValueError:
        raise BadAction("action", f"unknown action; use one of {', '.join(a.value for a in ActionName)}") from None
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadAction("params", "must be an object")
    try:
        model = PARAMS[action].model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "is not a parameter of this action"
        raise BadAction(f"params.{where}" if where else "params", message) from None
    return action, model.model_dump()


def needs_admin(action: ActionName, params: dict[str, Any]) -> bool:
    """Whether scheduling (or running) this action needs an admin."""
    return action in ADMIN_ACTIONS or bool(params.get("all_users"))


def may_manage(who: Identity, owner: str, action: ActionName, params: dict[str, Any]) -> bool:
    """Whether ``who`` may see and change a job of ``owner`` with this action."""
    if who.is_admin:
        return True
    return who.user_id == owner and not needs_admin(action, params)
