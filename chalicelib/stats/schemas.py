"""Response models of the statistics routes (functions/rest/stats.py); the batch routes' are in
chalicelib/downloads/responses.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.responses import _Out


class StateCounts(_Out):
    queued: int
    downloading: int
    paused: int
    completed: int
    failed: int
    cancelled: int


class EngineStats(_Out):
    scope: str = Field(description="'all' (an admin's view) or 'u#<user id>'")
    active: int = Field(description="downloads running now")
    queued: int
    paused: int
    completed: int
    failed: int
    cancelled: int
    total: int
    by_state: StateCounts
    total_speed: int = Field(description="bytes per second of the downloads running now")
    total_bytes: int = Field(description="sizes (where known) of every download in the list")
    downloaded_bytes: int
    remaining_bytes: int = Field(description="bytes still to download of the queued, running and paused ones")
    eta: int | None = Field(description="seconds at the current total speed; null when nothing runs")


class Periods(_Out):
    today: int
    this_week: int = Field(description="since Monday 00:00 UTC")
    this_month: int
    total: int


class Overview(_Out):
    scope: str
    downloads: Periods = Field(description="downloads added")
    completed: Periods
    failed: Periods
    bytes: Periods = Field(description="bytes of the downloads completed")
    success_rate: float | None = Field(description="completed / (completed + failed), all time; null when none")
    bytes_stored: int = Field(description="bytes of the completed downloads in the list")
    by_state: StateCounts


class TimelineBucket(_Out):
    start: str
    added: int
    completed: int
    failed: int
    cancelled: int
    bytes: int


class Timeline(_Out):
    scope: str
    group: Literal["hour", "day"]
    since: str = Field(description="the start of the first bucket")
    until: str = Field(description="the end of the last bucket")
    buckets: list[TimelineBucket]


class BreakdownItem(_Out):
    key: str
    name: str = Field(description="a batch's name; the key itself for the others")
    added: int
    completed: int
    failed: int
    cancelled: int
    bytes: int


class Breakdown(_Out):
    scope: str
    by: Literal["batch", "category", "tag", "host"]
    items: list[BreakdownItem]
