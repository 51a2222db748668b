from __future__ import annotations

import hashlib
import os

from chalicelib.auth.identity import Identity, Role
from chalicelib.domain.states import TaskState
from chalicelib.downloads.schemas import AddDownload
from tests.support.origin import Resource
from tests.support.wait import wait_for


def stored_sha256(svc, key: str) -> str:
    digest = hashlib.sha256()
    for chunk in svc.store.read(key):
        digest.update(chunk)
    return digest.hexdigest()


def test_ranged_download_lands_intact(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * 1024 * 1024, "parallel_parts": 4})
    res = origin.add("/f.bin", Resource(data=os.urandom(23 * 1024 * 1024 + 17)))
    task = svc.downloads.add(Identity("local", "local", Role.USER), AddDownload(url=origin.url("/f.bin")))
    done = wait_for(
        lambda: (t := svc.repo.get(task.id)) and t.state in (TaskState.COMPLETED, TaskState.FAILED) and t, 60
    )
    assert done.state == TaskState.COMPLETED, done.error
    assert done.part_count == 5
    assert stored_sha256(svc, done.key) == res.sha256()
