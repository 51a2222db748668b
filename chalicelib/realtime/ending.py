"""Closing the WebSocket connections of sessions that ended.

A connection authenticates once, at connect; when what it authenticated with ends (a logout
ends its login session; disabling or deleting the user, or a new password, ends all of the
user's), the REST handler that ended it calls :meth:`SessionEnds.close`. Each connection is
first forgotten (its subscriptions go, so the fan-out stops sending to it at once), then
closed through the management API (``DeleteConnection``), as API Gateway would close it.
"""

from __future__ import annotations

import logging

from .connections import ConnectionStore
from .publisher import ConnectionGone, Publishers

log = logging.getLogger("haul.realtime.ending")


class SessionEnds:
    def __init__(self, store: ConnectionStore, publishers: Publishers) -> None:
        self.store = store
        self.publishers = publishers

    def close(self, owner: str, session_id: str | None = None) -> int:
        """Close ``owner``'s connections (only those of ``session_id`` when given); how many.

        Never raises: the session has ended whatever happens here (a connection the
        management API cannot close is still forgotten, so nothing more is sent to it)."""
        closed = 0
        try:
            publisher = self.publishers.default()
            for cid, sid in self.store.of_user(owner):
                if session_id is not None and sid != session_id:
                    continue
                self.store.remove(cid, owner)
                closed += 1
                if publisher is None:
                    continue
                try:
                    publisher.close(cid)
                except ConnectionGone:
                    pass
        except Exception:
            log.exception("closing the connections of %s (session %s) failed", owner, session_id)
        if closed:
            log.info("closed %d connection(s) of %s: their session ended", closed, owner)
        return closed
