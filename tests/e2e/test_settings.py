"""Settings against the local runtime, over HTTP: nested patch, validate, history, restore, and
the engine using a changed setting on the next download (in its own worker processes)."""

from __future__ import annotations

import hashlib
import os

import requests

from tests.support.auth import PASSWORD, login
from tests.support.origin import Origin, Resource
from tests.support.runtime import RuntimeProcess, wait_state

MiB = 1024 * 1024


def test_settings_over_http(runtime: RuntimeProcess, origin: Origin) -> None:
    api, http = runtime.api, runtime.http
    start = http.get(f"{api}/settings", timeout=5)
    assert start.status_code == 200, start.text
    base = start.json()
    assert set(base) == {
        "version",
        "updated_at",
        "updated_by",
        "queue",
        "transfer",
        "retry",
        "files",
        "history",
        "security",
    }

    # Validate: 200 either way, and nothing applied.
    bad = http.post(f"{api}/settings/validate", json={"transfer": {"part_size": 1}, "queue": {"turbo": 1}}, timeout=5)
    assert bad.status_code == 200 and bad.json()["valid"] is False
    assert {e["field"] for e in bad.json()["errors"]} == {"transfer.part_size", "queue.turbo"}
    good = http.post(f"{api}/settings/validate", json={"transfer": {"part_size": 6 * MiB}}, timeout=5).json()
    assert good["valid"] is True and good["settings"]["transfer"]["part_size"] == 6 * MiB
    assert http.get(f"{api}/settings", timeout=5).json() == base

    # A 422 names the field, dotted; a PATCH changes only what it names.
    refused = http.patch(f"{api}/settings", json={"transfer": {"part_size": 1024}}, timeout=5)
    assert refused.status_code == 422
    assert [d["field"] for d in refused.json()["error"]["details"]] == ["transfer.part_size"]
    patched = http.patch(f"{api}/settings", json={"transfer": {"part_size": 6 * MiB, "parallel_parts": 2}}, timeout=5)
    assert patched.status_code == 200, patched.text
    doc = patched.json()
    assert doc["version"] == base["version"] + 1 and doc["updated_by"] == "admin"
    assert doc["transfer"]["part_size"] == 6 * MiB and doc["queue"] == base["queue"]

    # The workers (other processes, with their own 2 s cache) plan the next download with it.
    data = os.urandom(13 * MiB)
    origin.add("/six.bin", Resource(data=data))
    created = http.post(f"{api}/downloads", json={"url": origin.url("/six.bin")}, timeout=5).json()
    done = wait_state(api, created["id"], {"completed", "failed"}, headers=runtime.headers)
    assert done["state"] == "completed", done["error"]
    assert (done["part_size"], done["parts_total"]) == (6 * MiB, 3)
    assert hashlib.sha256(runtime.object_bytes(done["key"])).hexdigest() == hashlib.sha256(data).hexdigest()

    # History, newest first, and restore of the version before.
    history = http.get(f"{api}/settings/history", params={"per_page": 1}, timeout=5)
    assert history.status_code == 200
    assert int(history.headers["X-Total-Count"]) == doc["version"] + 1
    newest = history.json()["versions"][0]
    assert newest["version"] == doc["version"]
    assert newest["changes"] == {"transfer.part_size": [base["transfer"]["part_size"], 6 * MiB],
                                 "transfer.parallel_parts": [base["transfer"]["parallel_parts"], 2]}
    assert 'rel="next"' in history.headers["Link"]
    restored = http.post(f"{api}/settings/history/{base['version']}/restore", timeout=5)
    assert restored.status_code == 200, restored.text
    back = restored.json()
    assert back["version"] == doc["version"] + 1
    assert {k: back[k] for k in ("queue", "transfer", "retry", "files", "history")} == {
        k: base[k] for k in ("queue", "transfer", "retry", "files", "history")
    }
    assert http.get(f"{api}/settings/history/{back['version']}", timeout=5).json()["restored_from"] == base["version"]

    # A user reads and validates, but may not change or restore.
    user = "settings-user"
    made = http.post(f"{api}/users", json={"username": user, "password": PASSWORD, "role": "user"}, timeout=5)
    assert made.status_code == 201, made.text
    headers = login(api, user, PASSWORD)
    assert requests.get(f"{api}/settings", headers=headers, timeout=5).status_code == 200
    assert requests.patch(f"{api}/settings", json={"queue": {"max_concurrent_downloads": 9}},
                          headers=headers, timeout=5).status_code == 403
    assert requests.post(f"{api}/settings/history/0/restore", headers=headers, timeout=5).status_code == 403
