"""The emulator is fenced (issue #12 item 7): its patches of moto's and werkzeug's private
attributes are applied only to the versions they were written for; with another version moto
runs as it is, with a warning (and a data directory, which needs the patches, is refused)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import boto3
import pytest

from local_runtime.emulator import server as emulator
from local_runtime.emulator.datadir import DataDirError
from tests.support.ports import free_port


def _pins() -> dict[str, str]:
    text = (Path(__file__).parents[2] / "requirements-dev.txt").read_text()
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_-]+)(?:\[[^\]]*\])?==(\S+)", text, re.M)}


def test_the_patched_versions_are_the_pinned_and_installed_ones() -> None:
    pins = _pins()
    assert {name: pins.get(name) for name in emulator.PATCHED_FOR} == emulator.PATCHED_FOR
    assert emulator.unfit_versions() == []


@pytest.fixture()
def patches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record whether start_emulator applied the patches (they are applied for good in this
    process already; the recorder shows the decision)."""
    applied: list[int] = []

    def record() -> list[object]:
        applied.append(1)
        return []

    monkeypatch.setattr(emulator, "_patch", record)
    return applied


def _answers(port: int) -> bool:
    client = boto3.client("dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    return isinstance(client.list_tables()["TableNames"], list)


def test_the_tested_versions_are_patched(patches: list[int], caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="haul.emulator"):
        server = emulator.start_emulator("127.0.0.1", port)
    try:
        assert patches == [1] and _answers(port)
        assert not [r for r in caplog.records if "unpatched" in r.getMessage()]
    finally:
        server.stop()


def test_another_version_runs_unpatched_with_a_warning(
    patches: list[int], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    real = emulator.installed_version
    monkeypatch.setattr(emulator, "installed_version", lambda name: "9.9.9" if name == "werkzeug" else real(name))
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="haul.emulator"):
        server = emulator.start_emulator("127.0.0.1", port)
    try:
        assert patches == [] and _answers(port)
        (warning,) = [r for r in caplog.records if "unpatched" in r.getMessage()]
        assert "werkzeug 9.9.9 (the patches are for 3.1.9)" in warning.getMessage()
        assert "moto" not in warning.getMessage().split(":")[0]
    finally:
        server.stop()
    # A data directory is kept through the patches: refused, clearly, rather than not kept.
    with pytest.raises(DataDirError, match="werkzeug 9.9.9"):
        emulator.start_emulator("127.0.0.1", free_port(), tmp_path / "data")
    assert patches == []
