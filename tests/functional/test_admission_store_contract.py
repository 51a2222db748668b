"""Admission's many-at-a-time task store (chalicelib/downloads/admission/service.py
``AdmissionStore``), run against the in-memory fake (tests/fakes/batches.py ``FakeAdmissionStore``)
and the DynamoDB implementation (chalicelib/persistence/admission.py ``DynamoAdmissionStore``, on
moto), so the fake cannot drift from the real store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from chalicelib.domain.states import TaskState
from chalicelib.domain.task import Task
from chalicelib.domain.urls import dedupe_key
from chalicelib.downloads.admission.service import AdmissionStore
from tests.fakes.batches import FakeAdmissionStore
from tests.fakes.clock import ManualClock
from tests.fakes.tasks import FakeTasks

NOW = 1_700_000_000_000


@pytest.fixture(params=["fake", "dynamodb"])
def store(request: pytest.FixtureRequest) -> Iterator[AdmissionStore]:
    if request.param == "fake":
        yield FakeAdmissionStore(FakeTasks(ManualClock(NOW)))
        return
    request.getfixturevalue("emulator")
    from chalicelib.config import Config
    from chalicelib.container import dynamodb_client
    from chalicelib.persistence.admission import DynamoAdmissionStore

    yield DynamoAdmissionStore(dynamodb_client(Config.from_env()))


def _task(owner: str, url: str, n: int, state: TaskState = TaskState.QUEUED) -> Task:
    tid = str(uuid.uuid4())
    return Task(id=tid, owner=owner, url=url, filename="f.bin", key=f"downloads/{tid}/f.bin", state=state,
                order=(NOW + n) * 1000, created_at=NOW + n, updated_at=NOW + n)


def test_tasks_stored_many_at_a_time_read_back(store: AdmissionStore) -> None:
    owner = f"u-{uuid.uuid4().hex[:8]}"
    made = [_task(owner, f"http://o.test/{i}", i) for i in range(30)]  # more than one write chunk
    assert store.create_tasks(made, "alice") == [None] * 30
    got = store.get_tasks([t.id for t in made] + ["missing"])
    assert set(got) == {t.id for t in made}
    first = got[made[0].id]
    assert (first.owner, first.url, first.state, first.order, first.filename) == (
        owner, made[0].url, TaskState.QUEUED, made[0].order, "f.bin")
    ids_only = store.get_tasks([made[1].id, "missing"], projection="id")
    assert list(ids_only) == [made[1].id]


def test_duplicates_by_url_newest_first(store: AdmissionStore) -> None:
    owner = f"u-{uuid.uuid4().hex[:8]}"
    url = f"http://o.test/{uuid.uuid4().hex}"
    old, new = _task(owner, url, 1), _task(owner, url, 2, TaskState.COMPLETED)
    other = _task(f"u-{uuid.uuid4().hex[:8]}", url, 3)
    store.create_tasks([old, new, other], "alice")
    key, unknown = dedupe_key(owner, url), dedupe_key(owner, url + "/nope")
    assert store.ids_by_url([key, unknown, key]) == {key: [new.id, old.id], unknown: []}


def test_an_owners_duplicates_in_duplicate_states_only(store: AdmissionStore) -> None:
    owner = f"u-{uuid.uuid4().hex[:8]}"
    a, b, c = (f"http://o.test/{uuid.uuid4().hex}" for _ in range(3))
    queued, paused = _task(owner, a, 1), _task(owner, a, 2, TaskState.PAUSED)
    failed = _task(owner, b, 3, TaskState.FAILED)
    downloading = _task(owner, c, 4, TaskState.DOWNLOADING)
    someone_elses = _task(f"u-{uuid.uuid4().hex[:8]}", a, 5)
    store.create_tasks([queued, paused, failed, downloading, someone_elses], "alice")
    keys = {dedupe_key(owner, u) for u in (a, b)}
    found = store.ids_of_owner(owner, keys)
    assert set(found) == {dedupe_key(owner, a)}
    assert sorted(found[dedupe_key(owner, a)]) == sorted([queued.id, paused.id])
