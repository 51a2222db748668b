"""Who a WebSocket connection acts as: decided once, at connect.

:func:`authenticate` verifies the token (a JWT access token or a personal API key, checked
by chalicelib/auth) and returns the user's identity. Only stages that allow it
(``HAUL_WS_ANONYMOUS``, on by default for the functional tests' stage only) accept a
connection without a token, as an owner no user is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from ..api.errors import ApiError
from ..auth.apikeys import looks_like_key
from ..config import Config

# The owner every caller acts as until accounts exist (functions/rest/http.py LOCAL_OWNER).
ANONYMOUS_OWNER = "local"


@dataclass(frozen=True)
class Identity:
    owner: str
    anonymous: bool = False
    roles: tuple[str, ...] = field(default_factory=tuple)
    # The login session the token belonged to (None: an API key, or anonymous): its end
    # (logout) closes the connection (chalicelib/realtime/ending.py).
    session_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "roles": list(self.roles)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, owner: str) -> Identity:
        data = data or {}
        sid = data.get("session_id")
        return cls(owner=owner, anonymous=bool(data.get("anonymous")), roles=tuple(data.get("roles") or ()),
                   session_id=sid if isinstance(sid, str) else None)


# token -> identity, or None when the token is not valid.
TokenVerifier = Callable[[str], Identity | None]


def _no_accounts(token: str) -> Identity | None:
    return None


# () -> the accounts service (chalicelib/auth/accounts.py ``Accounts``); set by the composition
# root (chalicelib/container.py), so this module never fetches the container itself.
_accounts_source: Callable[[], Any] | None = None


def use_accounts(source: Callable[[], Any]) -> None:
    global _accounts_source
    _accounts_source = source


def _accounts_verifier(token: str) -> Identity | None:
    """The accounts' check (chalicelib/auth): an access token (JWT), or a personal API key.

    The connection acts as the token's user; the user must exist and be enabled now.
    """
    if _accounts_source is None:
        logging.getLogger("haul.realtime.auth").error("no accounts to check tokens with; connection refused")
        return None
    try:
        accounts = _accounts_source()
        who = accounts.from_api_key(token) if looks_like_key(token) else accounts.from_access_token(token)
    except ApiError:
        return None
    except Exception:
        logging.getLogger("haul.realtime.auth").exception("token check failed; connection refused")
        return None
    return Identity(owner=who.user_id, roles=(who.role.value,), session_id=who.session_id)


DEFAULT_VERIFIER: TokenVerifier = _accounts_verifier
_verifier: TokenVerifier = DEFAULT_VERIFIER


def set_token_verifier(verifier: TokenVerifier) -> None:
    global _verifier
    _verifier = verifier


def authenticate(token: str | None, config: Config | None = None,
                 anonymous_owner: str = ANONYMOUS_OWNER) -> Identity | None:
    """The identity a connection presenting ``token`` acts as; None refuses the connection.

    A token that is present must verify, on every stage. Without one, the connection is
    anonymous where the stage allows it and refused everywhere else.
    """
    config = config or Config.from_env()
    if token:
        return _verifier(token)
    if config.ws_anonymous:
        return Identity(owner=anonymous_owner, anonymous=True)
    return None
