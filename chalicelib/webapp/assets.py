"""The web app's static files, loaded once per process into a content-addressed set.

Every file is served under ``/static/<version>/<name>``, where ``version`` is a hash of all
the files' names and bytes: a changed file changes the version, so the files can be cached
for a year (``immutable``) and a new deployment is picked up on the next page load. The
names are flat, so the app's ES modules import each other with ``./name.js`` relative URLs
that stay inside one version.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDERS = (HERE / "static", HERE / "vendor")
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml; charset=utf-8",
}
# Templates rendered per request (page.py), never served as they are.
TEMPLATES = {"index.html", "docs.html"}
LONG_CACHE = "public, max-age=31536000, immutable"


@dataclass(frozen=True)
class Asset:
    name: str
    body: str
    content_type: str


@dataclass(frozen=True)
class AssetSet:
    version: str
    files: dict[str, Asset]
    templates: dict[str, str]

    def get(self, version: str, name: str) -> Asset | None:
        """The file ``name`` of ``version`` (None for another version: the page that asks is stale)."""
        return self.files.get(name) if version == self.version else None

    def url(self, base: str, name: str) -> str:
        return f"{base}static/{self.version}/{name}"


def load(folders: tuple[Path, ...] = FOLDERS) -> AssetSet:
    files: dict[str, Asset] = {}
    templates: dict[str, str] = {}
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(folder.iterdir()):
            kind = CONTENT_TYPES.get(path.suffix)
            if not path.is_file() or (kind is None and path.name not in TEMPLATES):
                continue
            text = path.read_text(encoding="utf-8")
            digest.update(path.name.encode() + b"\0" + text.encode() + b"\0")
            if kind is None:
                templates[path.name] = text
            else:
                files[path.name] = Asset(path.name, text, kind)
    return AssetSet(digest.hexdigest()[:16], files, templates)


@functools.cache
def assets() -> AssetSet:
    """The set this process serves (the files do not change while it runs)."""
    return load()
