"""The console script ``haul``: every command module attached to the root group."""

from __future__ import annotations

from . import commands_auth, commands_downloads, commands_manage  # noqa: F401  (they attach their commands)
from .cli import root


def main() -> None:
    root(prog_name="haul")
