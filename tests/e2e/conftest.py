from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.origin import Origin
from tests.support.runtime import RuntimeProcess


@pytest.fixture(scope="module")
def runtime() -> Iterator[RuntimeProcess]:
    rt = RuntimeProcess("e2e", {"HAUL_SCHEDULE_SECONDS": "2"}).start()
    yield rt
    rt.stop()


@pytest.fixture()
def origin() -> Iterator[Origin]:
    with Origin() as server:
        yield server
