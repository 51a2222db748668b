"""The scheduled function: the reconciler and dispatcher backstop."""

from __future__ import annotations

from chalicelib.container import services


def tick() -> int:
    return services().reconciler.run()
