"""The CLI's pure parts: sizes, durations, headers, settings, formatting, the live board,
error lines, URLs and the credentials file."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haul_cli.api import token_expiry
from haul_cli.config import Credentials, Store, normalise_url
from haul_cli.errors import CliError, exit_code_for_status
from haul_cli.live import Board
from haul_cli.units import (
    format_age,
    format_duration,
    format_size,
    format_speed,
    nest_settings,
    parse_assignment,
    parse_duration,
    parse_header,
    parse_size,
    progress_bar_text,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("5M", 5 * 1024**2), ("5m", 5 * 1024**2), ("500K", 500 * 1024), ("1.5G", int(1.5 * 1024**3)), ("100", 100),
    ("2MiB", 2 * 1024**2), ("5M/s", 5 * 1024**2), ("1T", 1024**4), ("0", 0), (" 3 k ", 3 * 1024), ("10B", 10),
])
def test_parse_size(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "fast", "5X", "-1M", "M", "1..5M", "5 M B"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", 1800), ("90s", 90), ("45", 45), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("1.5h", 5400),
    ("1h 5m 3s", 3903),
])
def test_parse_duration(text: str, expected: int) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "soon", "30x", "m30", "-5m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_parse_header() -> None:
    assert parse_header("Cookie: a=b; c=d") == ("Cookie", "a=b; c=d")
    assert parse_header("X-Token:abc:def") == ("X-Token", "abc:def")
    for bad in ("no colon", ": empty name", "Two Words: x"):
        with pytest.raises(ValueError):
            parse_header(bad)


def test_settings_assignments() -> None:
    assert parse_assignment("queue.max_concurrent_downloads=5") == ("queue.max_concurrent_downloads", 5)
    assert parse_assignment("transfer.part_size=32M") == ("transfer.part_size", 32 * 1024**2)
    assert parse_assignment("retry.base_seconds=1.5") == ("retry.base_seconds", 1.5)
    assert parse_assignment("x.flag=true") == ("x.flag", True)
    assert parse_assignment("x.name=hello world") == ("x.name", "hello world")
    assert parse_assignment("part_size=0") == ("part_size", 0)
    with pytest.raises(ValueError):
        parse_assignment("no-equals")
    assert nest_settings([("transfer.part_size", 1), ("transfer.parallel_parts", 2), ("part_size", 3)]) == {
        "transfer": {"part_size": 1, "parallel_parts": 2}, "part_size": 3}


def test_formatting() -> None:
    assert format_size(None) == "?"
    assert format_size(0) == "0 B"
    assert format_size(1023) == "1023 B"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(5 * 1024**3) == "5.0 GiB"
    assert format_size(3 * 1024**5) == "3072.0 TiB"
    assert format_speed(0) == "-" and format_speed(None) == "-"
    assert format_speed(10 * 1024**2) == "10.0 MiB/s"
    assert [format_duration(s) for s in (None, -1, 0, 59, 65, 3725, 90000)] == [
        "-",
        "-",
        "0s",
        "59s",
        "1m05s",
        "1h02m",
        "1d01h",
    ]
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    ago = lambda **kw: (now - timedelta(**kw)).isoformat().replace("+00:00", "Z")  # noqa: E731
    assert format_age(ago(seconds=5), now) == "5s ago"
    assert format_age(ago(minutes=3, seconds=20), now) == "3m ago"
    assert format_age(ago(hours=2), now) == "2h ago"
    assert format_age(ago(days=4), now) == "4d ago"
    assert format_age(None, now) == "-" and format_age("garbage", now) == "-"
    assert progress_bar_text(50, width=10) == "[#####-----]  50.0%"
    assert progress_bar_text(None, width=4) == "[----]   0.0%"
    assert progress_bar_text(140, width=4) == "[####] 100.0%"


def _task(task_id: str, state: str, at: str, **extra: object) -> dict[str, object]:
    return {"id": task_id, "state": state, "updated_at": at, **extra}


def test_board_snapshot_then_changes() -> None:
    board = Board(ids={"a", "b"})
    changes = board.apply({"type": "SYNC_ALL", "complete": True, "tasks": [
        _task("a", "downloading", "2026-01-01T00:00:01.000Z", downloaded_bytes=10, total_bytes=100, speed=5),
        _task("zzz", "downloading", "2026-01-01T00:00:01.000Z"),  # not followed
    ]})
    assert [(c.task["id"], c.previous) for c in changes] == [("a", None)]
    assert not board.settled()  # b is not known yet
    board.apply({"type": "TASK_ADDED", "task": _task("b", "queued", "2026-01-01T00:00:02.000Z", total_bytes=50)})
    # Progress is a partial task, merged into what is known.
    assert board.apply({"type": "TASK_BATCH_UPDATE", "tasks": [
        {"id": "a", "downloaded_bytes": 60, "speed": 20, "updated_at": "2026-01-01T00:00:03.000Z"}]}) == []
    assert board.tasks["a"]["total_bytes"] == 100 and board.tasks["a"]["downloaded_bytes"] == 60
    assert board.totals() == (60, 150, 20)
    # A late, older copy changes nothing.
    assert board.apply({"type": "TASK_UPDATED", "task": _task("a", "queued", "2026-01-01T00:00:00.500Z")}) == []
    done = board.apply({"type": "TASK_UPDATED", "task": _task("a", "completed", "2026-01-01T00:00:04.000Z"),
                        "previous_state": "downloading"})
    assert [(c.task["state"], c.previous) for c in done] == [("completed", "downloading")]
    assert not board.settled()
    removed = board.apply({"type": "TASK_REMOVED", "task_id": "b", "previous_state": "queued"})
    assert [(c.task["state"], c.previous) for c in removed] == [("removed", "queued")]
    assert board.settled() and board.exit_code() == 1
    assert board.counts() == {"completed": 1, "removed": 1}


def test_board_exit_code_and_watch_filter() -> None:
    board = Board(ids={"a"})
    board.apply({"type": "TASK_UPDATED", "task": _task("a", "completed", "t1")})
    assert board.settled() and board.exit_code() == 0
    watch = Board(ids=None, only_active=True)
    watch.apply({"type": "SYNC_ALL", "tasks": [_task("old", "completed", "t"), _task("live", "downloading", "t")]})
    assert list(watch.tasks) == ["live"] and not watch.settled()
    watch.apply({"type": "TASK_UPDATED", "task": _task("live", "failed", "u")})
    assert watch.settled() and watch.exit_code() == 1
    assert Board(ids=None).settled()  # nothing to wait for


def test_error_lines_and_exit_codes() -> None:
    err = CliError("invalid body", 6, code="VALIDATION_ERROR", request_id="r-1",
                   details=[{"field": "url", "message": "must be absolute"}])
    assert err.line() == "error: VALIDATION_ERROR: invalid body (url: must be absolute) [request r-1]"
    assert CliError("plain").line() == "error: plain"
    assert json.loads(json.dumps(err.as_json()))["error"]["exit_code"] == 6
    assert [exit_code_for_status(s) for s in (401, 403, 404, 409, 422, 400, 429, 500, 502)] == [
        3,
        3,
        4,
        5,
        6,
        6,
        7,
        8,
        8,
    ]


def test_urls_and_tokens() -> None:
    assert normalise_url("127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert normalise_url("https://h.example/api/api/v1/") == "https://h.example/api"
    assert normalise_url("http://h:1/") == "http://h:1"
    claims = base64.urlsafe_b64encode(json.dumps({"exp": 1234}).encode()).decode().rstrip("=")
    assert token_expiry(f"h.{claims}.s") == 1234.0
    assert token_expiry("not-a-jwt") is None


def test_credentials_file_is_private(tmp_path: Path) -> None:
    store = Store(tmp_path / "haul")
    store.save(Credentials(url="http://a", username="me", access_token="t", refresh_token="r"))
    store.save(Credentials(url="http://b", api_key="k"), make_current=False)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.dir.stat().st_mode) == 0o700
    assert store.current_url() == "http://a"
    got = store.get("http://a")
    assert got is not None and (got.username, got.refresh_token) == ("me", "r")
    with store.locked(), store.locked():  # re-entrant within one store
        store.save(Credentials(url="http://a", username="me", access_token="t2", refresh_token="r2"))
    assert store.forget("http://a") and store.current_url() == "http://b"
    assert not store.forget("http://a")
    store.path.write_text("not json")
    assert store.get("http://b") is None and store.servers() == []


def test_the_client_imports_nothing_of_the_server() -> None:
    import ast

    package = Path(__file__).resolve().parents[2] / "haul_cli"
    server = {"app", "chalicelib", "functions", "local_runtime", "infra", "bench", "tests"}
    for source in package.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not {n.split(".")[0] for n in names} & server, f"{source.name} imports {names}"
