"""The source files: random bytes on disk, made once per run, hashed while they are written."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .procs import MiB

BLOCK = 16 * MiB


@dataclass(frozen=True)
class SourceFile:
    name: str
    path: Path
    size: int
    sha256: str


def human(size: int) -> str:
    if size >= 1024 * MiB and size % (1024 * MiB) == 0:
        return f"{size // (1024 * MiB)} GiB"
    if size >= MiB and size % MiB == 0:
        return f"{size // MiB} MiB"
    return f"{size} B"


def make_file(directory: Path, size: int) -> SourceFile:
    """``size`` random bytes (os.urandom, so nothing can compress or deduplicate them)."""
    name = human(size).replace(" ", "").lower()
    path = directory / f"source-{name}.bin"
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(BLOCK, left))
            digest.update(block)
            fh.write(block)
            left -= len(block)
    return SourceFile(name, path, size, digest.hexdigest())
