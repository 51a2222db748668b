"""The data directory's format number: a new directory gets it; another format is migrated
when a migration exists, or refused with a message saying what to do; one runtime at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_runtime.emulator import datadir
from local_runtime.emulator.datadir import FORMAT, DataDir, DataDirError


def _open(path: Path) -> DataDir:
    d = DataDir(path)
    d.open("5.2.1")
    return d


def test_a_new_directory_gets_the_format(tmp_path: Path) -> None:
    d = _open(tmp_path / "data")
    d.close()
    assert json.loads((tmp_path / "data" / "format.json").read_text()) == {"format": FORMAT, "moto": "5.2.1"}


def test_an_older_format_without_a_migration_is_refused(tmp_path: Path) -> None:
    (tmp_path / "format.json").write_text(json.dumps({"format": 0}))
    with pytest.raises(DataDirError, match="state format 0; this Haul reads format 1 and has no migration"):
        _open(tmp_path)


def test_an_older_format_is_migrated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "format.json").write_text(json.dumps({"format": 0}))
    (tmp_path / "old.txt").write_text("old layout")
    monkeypatch.setitem(datadir.MIGRATIONS, 0, lambda p: (p / "old.txt").rename(p / "new.txt"))
    _open(tmp_path).close()
    assert (tmp_path / "new.txt").exists()
    assert json.loads((tmp_path / "format.json").read_text())["format"] == FORMAT


def test_a_newer_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "format.json").write_text(json.dumps({"format": FORMAT + 1}))
    with pytest.raises(DataDirError, match="written by a newer Haul"):
        _open(tmp_path)


def test_a_folder_that_is_not_a_data_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DataDirError, match="not a Haul data directory"):
        _open(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_one_runtime_at_a_time(tmp_path: Path) -> None:
    first = _open(tmp_path)
    try:
        with pytest.raises(DataDirError, match="in use by another Haul"):
            _open(tmp_path)
    finally:
        first.close()
    _open(tmp_path).close()
