"""Who may perform the first-run setup (``POST /auth/setup``).

On a deployed stage the first admin could otherwise be made by whoever finds the new API
first. The template generates a one-time setup token in Secrets Manager
(``HAUL_SETUP_TOKEN_SECRET_NAME``) and ``make deploy`` prints it; setup then needs it
(``setup_token``), and once an admin exists setup is closed for good. The local stage needs no
token (the runtime listens on this machine). A Lambda function without the secret refuses
setup rather than leave it open.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable
from typing import Any, Protocol

from ..api.errors import Forbidden, Unavailable
from .secret import CachedSecret, SecretUnreadable

NEEDED = ("this stage's first-run setup needs its one-time setup token (setup_token), which `make deploy` "
          "printed (the stack's SetupTokenSecret)")


class SetupGate(Protocol):
    required: bool

    def check(self, presented: str | None) -> None:
        """Raise unless setup may go ahead with ``presented``."""


class OpenSetup:
    """The local stage: no token."""

    required = False

    def check(self, presented: str | None) -> None:
        return None


class ClosedSetup:
    """A Lambda function without the secret: no setup at all."""

    required = True

    def check(self, presented: str | None) -> None:
        raise Forbidden("first-run setup is closed: HAUL_SETUP_TOKEN_SECRET_NAME is not set on this deployed stage")


class SecretSetupToken:
    """The token is the value of the Secrets Manager secret ``name``."""

    required = True

    def __init__(self, name: str, client_factory: Callable[[], Any]) -> None:
        self._secret = CachedSecret(name, client_factory)

    def _value(self) -> str:
        try:
            return self._secret.value()
        except SecretUnreadable:  # nothing is set up: try again later
            raise Unavailable("the setup token cannot be read right now; try again") from None

    def check(self, presented: str | None) -> None:
        if not presented:
            raise Forbidden(NEEDED, [{"field": "setup_token", "message": "is required on this stage"}])
        if not hmac.compare_digest(presented.encode(), self._value().encode()):
            raise Forbidden("the setup token is wrong", [{"field": "setup_token", "message": "is wrong"}])


def setup_gate(secret_name: str | None, client_factory: Callable[[], Any]) -> SetupGate:
    if secret_name:
        return SecretSetupToken(secret_name, client_factory)
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        return ClosedSetup()
    return OpenSetup()
