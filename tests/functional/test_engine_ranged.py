"""The ranged engine against real loopback origins: clean runs, cuts, a source that changes,
redirects, filenames and checksums. Every scenario ends with the stored object's SHA-256
equal to the origin's, or the task failed with a reason a person can read."""

from __future__ import annotations

import hashlib
import os

import pytest

from chalicelib.domain.states import Action, TaskState
from chalicelib.downloads.schemas import AddDownload
from chalicelib.persistence.models import PartModel
from tests.support.engine import (
    OWNER,
    MiB,
    fetched_ranges,
    object_exists,
    open_uploads,
    part_ranges,
    stored_sha256,
    wait_finished,
)
from tests.support.origin import Resource

# Nothing left active by an earlier test may hold a download slot.
pytestmark = pytest.mark.usefixtures("settled")


def _peak_concurrency(requests: list[dict]) -> int:
    spans = [(r["time"], r["end"]) for r in requests if r.get("status") == 206 and "end" in r]
    return max((sum(1 for a, b in spans if a <= start < b) for start, _ in spans), default=0)


def test_ranged_parallel_lanes_use_if_range_and_fetch_each_byte_once(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 3})
    data = os.urandom(4 * 5 * MiB + 1234)
    res = origin.add("/big.bin", Resource(data=data, throttle_bps=10 * MiB))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/big.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert (done.part_count, done.parts_done, done.size) == (5, 5, len(data))
    assert done.resumable and done.gen == 1 and done.restarts == 0
    assert stored_sha256(svc, done.key) == res.sha256()
    ranged = [r for r in res.requests if r.get("range") and r["range"] != (0, 0)]
    assert ranged and all(r["headers"].get("If-Range") == '"v1"' for r in ranged)
    # Each part's range exactly once, nothing else: no byte range fetched twice.
    assert fetched_ranges(res.requests) == part_ranges(len(data), 5 * MiB)
    assert res.body_bytes() == len(data) + 1  # + the probe's one byte
    assert _peak_concurrency(res.requests) >= 2, "the lanes never ran in parallel"
    assert open_uploads(svc, done.key) == []


def test_connection_cuts_mid_body_resume_with_only_the_remaining_bytes(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 3})
    data = os.urandom(3 * 5 * MiB - 99)
    cut = 1536 * 1024 + 123
    res = origin.add("/cut.bin", Resource(data=data, cut_after=cut, cuts=4))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/cut.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert stored_sha256(svc, done.key) == res.sha256()
    cut_requests = [r for r in res.requests if "cut_at" in r]
    assert len(cut_requests) == 4
    for r in cut_requests:
        first, last = r["range"]
        resumed = [
            q for q in res.requests if q["time"] >= r["time"] and q.get("range") == (first + r["cut_at"], last)
        ]
        assert resumed, f"the cut at {first}+{r['cut_at']} was not resumed from the byte it broke at"
        assert resumed[0]["headers"].get("If-Range") == '"v1"'
    # Nothing was fetched twice: the bytes served add up to the file (+ the probe's byte).
    assert res.body_bytes() == len(data) + 1


def test_source_that_changes_mid_download_restarts_cleanly_with_the_new_content(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    old = os.urandom(4 * 5 * MiB)
    new = os.urandom(4 * 5 * MiB + 777)
    res = origin.add("/moving.bin", Resource(data=old, change_after_requests=3, changed=new))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/moving.bin")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert done.restarts >= 1 and done.gen >= 2
    assert done.size == len(new) and done.validator == '"v2"'
    assert stored_sha256(svc, done.key) == hashlib.sha256(new).hexdigest()
    # Only the last generation's parts are on record, and the first upload was aborted.
    parts = list(PartModel.query(task.id))
    assert sorted(int(p.number) for p in parts) == list(range(1, (done.part_count or 0) + 1))
    assert {int(p.gen) for p in parts} == {done.gen}
    assert open_uploads(svc, done.key) == []
    after = [r for r in res.requests if r.get("headers", {}).get("If-Range") == '"v2"']
    assert sorted(r["range"] for r in after if r.get("status") == 206) == part_ranges(len(new), 5 * MiB)


def test_redirect_is_followed_and_the_final_name_is_used(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    hop = origin.add("/go", Resource(redirect_to="/files/real-name.iso"))
    res = origin.add("/files/real-name.iso", Resource(data=os.urandom(7 * MiB + 5)))

    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/go")))
    done = wait_finished(svc, task.id)

    assert done.state == TaskState.COMPLETED, done.error
    assert done.filename == "real-name.iso" and done.key.endswith("/real-name.iso")
    assert stored_sha256(svc, done.key) == res.sha256()
    assert hop.requests and all(r["status"] == 302 for r in hop.requests)
    assert fetched_ranges(res.requests) == part_ranges(7 * MiB + 5, 5 * MiB)


def test_content_disposition_names_the_file_unless_the_user_did(svc, workers, origin) -> None:
    data = os.urandom(MiB + 3)
    res = origin.add(
        "/dl", Resource(data=data, content_disposition='attachment; filename="Quarterly Report.pdf"')
    )

    named_by_origin = svc.downloads.add(OWNER, AddDownload(url=origin.url("/dl?id=7")))
    named_by_user = svc.downloads.add(
        OWNER, AddDownload(url=origin.url("/dl?id=7"), filename="mine.pdf", allow_duplicate=True)
    )
    first = wait_finished(svc, named_by_origin.id)
    second = wait_finished(svc, named_by_user.id)

    assert first.state == TaskState.COMPLETED, first.error
    assert first.filename == "Quarterly Report.pdf"
    assert first.key == f"downloads/{first.id}/Quarterly Report.pdf"
    assert stored_sha256(svc, first.key) == res.sha256()
    assert second.state == TaskState.COMPLETED, second.error
    assert second.filename == "mine.pdf" and second.key.endswith("/mine.pdf")
    assert stored_sha256(svc, second.key) == res.sha256()


def test_user_checksum_is_verified(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    data = os.urandom(6 * MiB + 11)
    res = origin.add("/sum.bin", Resource(data=data))
    good = svc.downloads.add(OWNER, AddDownload(url=origin.url("/sum.bin"), checksum=f"sha256:{res.sha256()}"))
    bad = svc.downloads.add(
        OWNER, AddDownload(url=origin.url("/sum.bin"), checksum="sha256:" + "ab" * 32, allow_duplicate=True)
    )

    ok = wait_finished(svc, good.id)
    failed = wait_finished(svc, bad.id)

    assert ok.state == TaskState.COMPLETED, ok.error
    assert stored_sha256(svc, ok.key) == res.sha256()
    assert failed.state == TaskState.FAILED
    assert failed.error and "checksum mismatch" in failed.error and res.sha256() in failed.error
    assert not object_exists(svc, failed.key)
    assert open_uploads(svc, failed.key) == []


def test_retry_after_a_checksum_mismatch_downloads_and_checks_again(svc, workers, origin) -> None:
    svc.settings.update({"part_size": 5 * MiB, "parallel_parts": 2})
    res = origin.add("/sum.bin", Resource(data=os.urandom(6 * MiB)))
    task = svc.downloads.add(OWNER, AddDownload(url=origin.url("/sum.bin"), checksum="sha256:" + "cd" * 32))
    first = wait_finished(svc, task.id)
    assert first.state == TaskState.FAILED and first.error and "checksum mismatch" in first.error
    before = len(res.requests)

    svc.downloads.act(OWNER, task.id, Action.RETRY)
    again = wait_finished(svc, task.id)

    # The first attempt's upload was completed and its object deleted: the retry has to
    # fetch the file again, and fails for the same, stated reason.
    assert again.state == TaskState.FAILED
    assert again.error and "checksum mismatch" in again.error and res.sha256() in again.error, again.error
    assert fetched_ranges(res.requests[before:]) == part_ranges(6 * MiB, 5 * MiB)
    assert not object_exists(svc, again.key)
    assert open_uploads(svc, again.key) == []
