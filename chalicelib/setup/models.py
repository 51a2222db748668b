"""The setup wizard's requests."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.schemas import _Strict
from ..auth.schemas import Setup


class TestFeed(_Strict):
    url: str = Field(min_length=1, max_length=2048, description="an RSS or Atom feed's URL")
    setup_token: str | None = Field(default=None, max_length=512,
                                    description="a deployed stage's one-time setup token (or X-Setup-Token)")


class TestNotification(_Strict):
    kind: Literal["webhook", "apprise"]
    url: str = Field(min_length=3, max_length=2000)
    secret: str | None = Field(default=None, min_length=16, max_length=200)
    setup_token: str | None = Field(default=None, max_length=512,
                                    description="a deployed stage's one-time setup token (or X-Setup-Token)")


class Complete(Setup):
    """The first admin's username and password (as POST /auth/setup)."""
