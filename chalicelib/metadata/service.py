"""Naming downloads: the key a download's metadata, folder and template give, made unique
when its transfer starts, and moved (server-side copy + delete) when it changes after
completion."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..adapters.s3 import ObjectStore
from ..domain.task import Task
from . import naming
from .models import Metadata, of
from .persistence import KeyClaims, NamingStore

log = logging.getLogger("haul.naming")
# Alternatives tried (" (2)" .. " (N)") before a key takes the download's id instead.
MAX_ALTERNATIVES = 50


class KeyPlanner:
    def __init__(self, store: ObjectStore, settings: NamingStore, claims: KeyClaims,
                 task_keys: Callable[[str], tuple[str | None, ...]]) -> None:
        """``task_keys``: a download's key and the key it moves to on completion, by id
        (empty: it is gone): a claim whose download is gone or stores elsewhere is stale."""
        self.store = store
        self.settings = settings
        self.claims = claims
        self.task_keys = task_keys

    # -- planning (pure but for the cached settings) -----------------------------------------
    def plan(self, task_id: str, filename: str, metadata: dict[str, Any] | Metadata | None,
             category: str | None, path: str | None, template: str | None) -> str:
        """The key these would give (before it is claimed). A download with none of them is
        ``downloads/<id>/<filename>`` without reading the settings (the everyday add and start)."""
        if metadata is None and category is None and path is None and template is None:
            return naming.key_for(task_id, filename, None, naming.Naming())
        found = self.settings.get()
        meta = metadata if isinstance(metadata, Metadata) or metadata is None else of(metadata)
        return naming.key_for(task_id, filename, meta, found.resolve(category, path, template),
                              found.effective_templates(), category)

    def of_task(self, task: Task, filename: str | None = None) -> str:
        return self.plan(task.id, filename or task.filename, task.metadata, task.category, task.path, task.naming)

    # -- claiming ----------------------------------------------------------------------------
    def claim(self, key: str, task_id: str, replace: bool = False) -> str:
        """``key`` if this download may store there, else the first free ``key (n)``; with
        ``replace``, ``key`` itself even if another download's object is there. A legacy key
        (``downloads/<id>/...``) is unique by its id and never claimed."""
        if not naming.is_named(key, task_id):
            return key
        for n in range(1, MAX_ALTERNATIVES + 1):
            candidate = key if n == 1 else naming.numbered(key, n)
            if self._take(candidate, task_id, replace and n == 1):
                return candidate
        folder, _, name = key.rpartition("/")
        stem, ext = naming.split_ext(name)
        unique = naming.safe_key(f"{folder}/{stem} [{task_id}]" + (f".{ext}" if ext else ""), 1024)
        self._take(unique, task_id, True)
        return unique

    def _take(self, key: str, task_id: str, replace: bool) -> bool:
        holder = self.claims.holder(key)
        if holder == task_id:
            return True
        live = holder is not None and key in self.task_keys(holder)
        if live and not replace:
            return False
        if not live and not replace and self.store.size(key) is not None:
            return False  # an object nobody claims (a deleted download's file, an upload): kept
        return self.claims.take(key, task_id, holder)

    def start_key(self, task: Task, filename: str) -> str:
        """The key a transfer that is starting stores to (the probe has named the file)."""
        return self.claim(self.of_task(task, filename), task.id, task.replace)
