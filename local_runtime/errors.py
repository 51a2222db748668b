"""What stops the local runtime from starting: one error type, shared by the runtime and the parts
it starts (the WebSocket gateway's listener in realtime.py), so neither imports the other back."""

from __future__ import annotations


class StartupError(Exception):
    """Something the user can fix before Haul can start; the message says what."""
