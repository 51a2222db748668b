"""The `haul` command-line client for real: the console script as a subprocess (in a
pseudo-terminal where a person would watch it) against `python -m local_runtime` and loopback
origins."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import stat
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from haul_cli.api import token_expiry
from tests.support.auth import login
from tests.support.cli import HAUL, Cli, Relay, final_lines, strip_ansi
from tests.support.origin import Origin, Resource
from tests.support.runtime import ADMIN_PASSWORD, ADMIN_USER, RuntimeProcess, wait_state
from tests.support.wait import wait_for

MiB = 1024 * 1024
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rt() -> Iterator[RuntimeProcess]:
    # Access tokens of 31 s: the client refreshes those with under 30 s left, so nearly every
    # command here goes through the silent refresh.
    runtime = RuntimeProcess(f"cli{uuid.uuid4().hex[:6]}", {"HAUL_ACCESS_TOKEN_SECONDS": "31"}).start()
    answer = runtime.http.patch(f"{runtime.api}/settings", json={"part_size": 5 * MiB, "parallel_parts": 4,
                                                              "max_concurrent_downloads": 4}, timeout=10)
    assert answer.status_code == 200, answer.text
    yield runtime
    runtime.stop()


def admin(rt: RuntimeProcess) -> dict[str, str]:
    """A fresh admin header (rt.headers keeps one, and tokens here last 31 s)."""
    return login(rt.api, ADMIN_USER, ADMIN_PASSWORD)


def ws_port(rt: RuntimeProcess) -> int:
    return int(rt.env["HAUL_WS_PORT"])


@pytest.fixture(scope="module")
def cli(rt: RuntimeProcess, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A `haul` logged in as the admin (through --password-stdin), in a config dir of its own."""
    # No HAUL_WS_URL: the client finds the WebSocket in GET /health.
    haul = Cli(tmp_path_factory.mktemp("cli") / "config", {"HAUL_URL": f"http://127.0.0.1:{rt.api_port}"})
    done = haul.run("login", "-u", ADMIN_USER, "--password-stdin", stdin=ADMIN_PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    return haul


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def serve(origin: Origin, size: int, throttle: int | None = None, **kwargs: Any) -> tuple[str, bytes]:
    data = os.urandom(size)
    path = f"/{uuid.uuid4().hex[:8]}.bin"
    origin.add(path, Resource(data=data, throttle_bps=throttle, **kwargs))
    return origin.url(path), data


def test_first_run_setup_creates_the_first_admin(tmp_path: Path) -> None:
    runtime = RuntimeProcess(f"clisetup{uuid.uuid4().hex[:6]}", {
        "HAUL_ADMIN_USER": "", "HAUL_ADMIN_PASSWORD": "", "HAUL_WORKER_PROCESSES": "1"}).start()
    try:
        haul = Cli(tmp_path / "config")
        url = f"http://127.0.0.1:{runtime.api_port}"
        password = "the very first password"
        code, screen = haul.pty("login", "--url", url, "-u", "founder",
                                answers=[("Password:", password + "\n"), ("confirmation", password + "\n")])
        text = strip_ansi(screen)
        assert code == 0, text
        assert "has no users yet" in text and password not in screen
        assert f"Logged in to {url} as founder (admin) (first admin created)" in text
        assert haul.run("whoami").stdout.strip() == f"founder (admin) on {url}, by login session"
    finally:
        runtime.stop()


def test_login_asks_for_the_password_without_echo_and_keeps_it_private(rt: RuntimeProcess, tmp_path: Path) -> None:
    haul = Cli(tmp_path / "config")
    url = f"http://127.0.0.1:{rt.api_port}"
    code, screen = haul.pty("login", "--url", url, "-u", ADMIN_USER, answers=[("Password:", ADMIN_PASSWORD + "\n")])
    assert code == 0, strip_ansi(screen)
    assert ADMIN_PASSWORD not in screen  # typed, never echoed
    assert f"Logged in to {url} as {ADMIN_USER} (admin)" in strip_ansi(screen)
    creds = tmp_path / "config" / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(creds.parent.stat().st_mode) == 0o700
    stored = json.loads(creds.read_text())
    assert stored["current"] == url and stored["servers"][url]["refresh_token"]

    # The login became the default server: no --url, no HAUL_URL.
    who = haul.run("whoami", "--json")
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["user"]["username"] == ADMIN_USER

    # A refused login: exit 3, one line naming the API's code and request id.
    wrong = haul.run("login", "-u", ADMIN_USER, "--password-stdin", stdin="not the password\n")
    assert wrong.returncode == 3
    assert re.fullmatch(r"error: \w+: .+ \[request [0-9a-f-]{36}\]\n", wrong.stderr), wrong.stderr

    refresh = json.loads(creds.read_text())["servers"][url]["refresh_token"]
    out = haul.run("logout")
    assert out.returncode == 0 and f"Logged out of {url}" in out.stdout
    # The session ended on the server too, not just in the file.
    assert requests.post(f"{url}/api/v1/auth/refresh", json={"refresh_token": refresh}, timeout=10).status_code == 401
    assert url not in json.loads(creds.read_text())["servers"]
    after = haul.run("ls", env={"HAUL_URL": url})
    assert after.returncode == 3 and "haul login" in after.stderr


def test_api_keys_made_by_the_cli_serve_scripts(rt: RuntimeProcess, cli: Cli, tmp_path: Path) -> None:
    made = cli.run("keys", "create", "ci", "--expires-in-days", "1", "--password-stdin", "--json",
                   stdin=ADMIN_PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    assert created["key"].startswith("haul_") and created["expires_at"]
    fresh = Cli(tmp_path / "elsewhere", {"HAUL_URL": f"http://127.0.0.1:{rt.api_port}", "HAUL_API_KEY": created["key"]})
    who = fresh.run("whoami")
    assert who.returncode == 0, who.stderr
    assert who.stdout.strip() == f"{ADMIN_USER} (admin) on http://127.0.0.1:{rt.api_port}, by HAUL_API_KEY"
    listed = cli.run("keys", "ls", "--json")
    assert created["id"] in [k["id"] for k in json_lines(listed.stdout)]
    assert cli.run("keys", "rm", created["id"]).returncode == 0
    refused = fresh.run("whoami")
    assert refused.returncode == 3, refused.stderr
    wrong = cli.run("keys", "create", "x", "--password-stdin", stdin="not my password\n")
    assert wrong.returncode in (3, 6) and wrong.stderr.startswith("error: "), wrong.stderr


def test_add_follow_draws_bars_to_the_end_in_a_terminal(cli: Cli, origin: Origin) -> None:
    first, _ = serve(origin, 12 * MiB, throttle=6 * MiB)
    second, _ = serve(origin, 3 * MiB, throttle=2 * MiB)
    code, screen = cli.pty("add", first, second, "--follow", cols=140)
    text = strip_ansi(screen)
    assert code == 0, text
    last = final_lines(screen)
    for url, size in ((first, "12.0/12.0 MiB"), (second, "3.0/3.0 MiB")):
        name = url.rsplit("/", 1)[1]
        line = last[name]
        assert "100.0%" in line and size in line and line.endswith("completed"), line
        assert "━" in line  # drawn as a bar
    assert last["total"].endswith("2/2 done") and "15.0/15.0 MiB" in last["total"], last["total"]
    assert "\x1b[" in screen  # colour on a terminal...
    assert re.search(r"2 completed; 15\.0 MiB in \d+s", text)


def test_add_follow_json_and_exit_status(cli: Cli, origin: Origin) -> None:
    good, _ = serve(origin, 6 * MiB, throttle=6 * MiB)
    missing = origin.url(f"/{uuid.uuid4().hex}.gone")  # the origin answers 404: the download fails
    done = cli.run("add", good, missing, "--follow", "--json")
    assert done.returncode == 1, done.stderr  # not all completed
    assert "\x1b[" not in done.stdout  # ...never when piped
    events = json_lines(done.stdout)
    added = [e["task"] for e in events if e["event"] == "added"]
    assert [t["url"] for t in added] == [good, missing]
    finals = {e["task"]["url"]: e["task"]["state"] for e in events if e["event"] == "state"}
    assert finals == {good: "completed", missing: "failed"}
    assert events[-1] == {"event": "done", "counts": {"completed": 1, "failed": 1}, "exit_code": 1}

    named = cli.run("add", serve(origin, MiB)[0], "--batch", "one", "--filename", "renamed.bin", "--tag", "t1",
                    "-H", "X-Test: yes", "--priority", "high", "--speed-limit", "5M", "--json")
    assert named.returncode == 0, named.stderr
    task = json_lines(named.stdout)[0]
    assert (
        task["filename"],
        task["tags"],
        task["header_names"],
        task["priority"],
        task["speed_limit"],
        task["batch_name"],
    ) == ("renamed.bin", ["t1"], ["X-Test"], "HIGH", 5 * MiB, "one")

    plain = cli.run("add", serve(origin, MiB)[0], "--follow")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert lines[0].startswith("added\t") and lines[-1].endswith("completed (1.0 MiB)"), lines


def test_follow_survives_a_reconnect(rt: RuntimeProcess, cli: Cli, origin: Origin) -> None:
    url, _ = serve(origin, 15 * MiB, throttle=MiB)
    relay = Relay(ws_port(rt))
    try:
        proc = subprocess.Popen([str(HAUL), "add", url, "--follow", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**cli.env, "HAUL_WS_URL": f"ws://127.0.0.1:{relay.port}/{rt.stage}"})
        events = _until_connected(proc)
        # The connection drops, none can be made until the download has completed meanwhile.
        relay.cut(hold=600)
        wait_state(rt.api, events[0]["task"]["id"], {"completed"}, timeout=120, headers=admin(rt))
        relay.release()
        rest, err = proc.communicate(timeout=120)
        events += json_lines(rest)
    finally:
        relay.close()
    assert proc.returncode == 0, err
    assert relay.accepted >= 2
    statuses = [e["status"] for e in events if e["event"] == "connection"]
    assert statuses[0] == "connected" and statuses[1].startswith("reconnecting") and statuses[-1] == "connected"
    states = [e["task"]["state"] for e in events if e["event"] == "state"]
    assert states[-1] == "completed" and "completed" not in states[:-1]
    assert events[-1] == {"event": "done", "counts": {"completed": 1}, "exit_code": 0}


def test_bulk_actions(rt: RuntimeProcess, cli: Cli, origin: Origin) -> None:
    stopped = cli.run("queue", "stop", "--json")
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["state"] == "stopped", stopped.stderr
    try:
        name = f"bulk-{uuid.uuid4().hex[:6]}"
        urls = [serve(origin, MiB)[0] for _ in range(3)]
        listing = "# three downloads\n" + "\n".join(urls) + "\n\n"
        added = cli.run("add", "-i", "-", "--batch", name, "--json", stdin=listing)
        assert added.returncode == 0, added.stderr
        ids = [t["id"] for t in json_lines(added.stdout)]
        batch_id = json_lines(added.stdout)[0]["batch_id"]

        paused = cli.run("pause", "--all", "--batch", batch_id, "--json")
        assert paused.returncode == 0, paused.stderr
        assert sorted(r["id"] for r in json_lines(paused.stdout)) == sorted(ids)
        assert {r["state"] for r in json_lines(paused.stdout)} == {"paused"}

        # Two good ids and one that does not exist: a result each, exit 1.
        resumed = cli.run("resume", ids[0], ids[1], "no-such-id")
        assert resumed.returncode == 1
        assert resumed.stdout.count("resumed\t") == 2 and "no-such-id: NOT_FOUND" in resumed.stderr

        unconfirmed = cli.run("cancel", "--all", "--batch", batch_id)
        assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
        cancelled = cli.run("cancel", "--all", "--batch", batch_id, "--yes", "--json")
        assert cancelled.returncode == 0 and len(json_lines(cancelled.stdout)) == 3, cancelled.stderr
        listed = cli.run("ls", "--batch", batch_id, "--state", "cancelled", "--json")
        assert sorted(t["id"] for t in json_lines(listed.stdout)) == sorted(ids)

        removed = cli.run("rm", "--state", "cancelled", "--batch", batch_id, "-y")
        assert removed.returncode == 0, removed.stderr
        assert removed.stdout.count("removed\t") == 3
        assert cli.run("ls", "--batch", batch_id, "--json").stdout == ""
    finally:
        started = cli.run("queue", "start")
        assert started.returncode == 0, started.stderr


def test_ls_pages_through_everything_and_pipes_plain_text(cli: Cli, origin: Origin) -> None:
    urls = [serve(origin, 64 * 1024)[0] for _ in range(5)]
    added = cli.run("add", *urls, "--batch", "pages", "--follow", "--json")
    assert added.returncode == 0, added.stderr
    batch_id = json_lines(added.stdout)[0]["task"]["batch_id"]
    walked = cli.run("ls", "--batch", batch_id, "--all", "--page-size", "2", "--json")
    assert walked.returncode == 0, walked.stderr
    assert sorted(t["url"] for t in json_lines(walked.stdout)) == sorted(urls)
    first = cli.run("ls", "--batch", batch_id, "--limit", "2")
    rows = first.stdout.splitlines()
    assert rows[0].split("\t") == ["id", "name", "state", "progress", "size", "speed", "eta", "added"]
    assert len(rows) == 3 and "\x1b[" not in first.stdout
    assert "2 of 5 shown" in first.stderr
    shown = cli.run("batch", "show", batch_id, "--json")
    assert json.loads(shown.stdout)["batch"]["completed"] == 5


def test_get_fetches_the_stored_bytes_and_checks_them(cli: Cli, origin: Origin, tmp_path: Path) -> None:
    url, data = serve(origin, 7 * MiB + 123)
    added = cli.run("add", url, "--checksum", f"sha256:{hashlib.sha256(data).hexdigest()}", "--follow", "--json")
    assert added.returncode == 0, added.stderr
    task_id = json_lines(added.stdout)[0]["task"]["id"]
    target = tmp_path / "fetched.bin"
    got = cli.run("get", task_id, "-o", str(target), "--json")
    assert got.returncode == 0, got.stderr
    assert target.read_bytes() == data
    assert json.loads(got.stdout) == {"id": task_id, "path": str(target), "bytes": len(data),
                                      "sha256": hashlib.sha256(data).hexdigest(), "checksum": "verified"}
    again = cli.run("get", task_id, "-o", str(target))
    assert again.returncode == 2 and "exists" in again.stderr
    piped = subprocess.run([str(HAUL), "get", task_id, "-o", "-"], capture_output=True, env=cli.env, timeout=60)
    assert piped.returncode == 0 and piped.stdout == data


def test_server_errors_are_one_line_with_an_exit_code(rt: RuntimeProcess, cli: Cli, origin: Origin) -> None:
    missing = cli.run("show", "no-such-download")
    assert missing.returncode == 4
    assert re.fullmatch(r"error: NOT_FOUND: no download with id no-such-download \[request [0-9a-f-]{36}\]\n",
                        missing.stderr), missing.stderr
    as_json = cli.run("show", "no-such-download", "--json")
    assert json.loads(as_json.stderr)["error"]["code"] == "NOT_FOUND" and as_json.stdout == ""

    invalid = cli.run("add", "ftp://example.com/file")
    assert invalid.returncode == 6 and invalid.stderr.startswith("error: VALIDATION_ERROR: "), invalid.stderr

    url, _ = serve(origin, MiB)
    done = cli.run("add", url, "--follow", "--json")
    task_id = json_lines(done.stdout)[0]["task"]["id"]
    conflict = cli.run("pause", task_id)
    assert conflict.returncode == 5 and "CONFLICT" in conflict.stderr, conflict.stderr

    bad_size = cli.run("add", url, "--speed-limit", "fast")
    assert bad_size.returncode == 2 and "not a size" in bad_size.stderr
    nobody = cli.run("ls", env={"HAUL_URL": "http://127.0.0.1:9"})
    assert nobody.returncode == 9 and nobody.stderr.startswith("error: cannot reach http://127.0.0.1:9")


def test_queue_settings_stats_and_log(cli: Cli) -> None:
    changed = cli.run("settings", "set", "transfer.part_size=6M", "queue.max_concurrent_downloads=4")
    assert changed.returncode == 0, changed.stderr
    assert "transfer.part_size = 6291456" in changed.stdout
    shown = cli.run("settings", "get", "transfer.part_size", "--json")
    assert json.loads(shown.stdout) == {"transfer.part_size": 6291456}
    refused = cli.run("settings", "set", "transfer.part_size=1")
    assert refused.returncode == 6 and "transfer.part_size" in refused.stderr, refused.stderr

    paused = cli.run("queue", "pause", "30m", "--json")
    assert paused.returncode == 0, paused.stderr
    until = json.loads(paused.stdout)["paused_until"]
    assert until and abs(time.time() + 1800 - _epoch(until)) < 120
    assert cli.run("queue", "start").stdout.strip() == "queue running"
    status = cli.run("queue", "status", "--json")
    assert json.loads(status.stdout)["state"] == "running"

    stats = cli.run("stats", "--json")
    assert stats.returncode == 0 and "by_state" in json.loads(stats.stdout)["engine"]
    log = cli.run("log", "--limit", "5", "--json")
    assert log.returncode == 0 and any(e["kind"].startswith("queue") for e in json_lines(log.stdout)), log.stdout


def _epoch(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_help_and_completion(cli: Cli) -> None:
    top = cli.run("--help")
    for command in ("login", "add", "ls", "get", "batch", "queue", "settings", "watch", "Exit codes"):
        assert command in top.stdout
    for shell, marker in (
        ("bash", "complete -o"),
        ("zsh", "#compdef haul"),
        ("fish", "complete --no-files --command haul"),
    ):
        script = cli.run("completion", shell)
        assert script.returncode == 0 and marker in script.stdout, script.stdout[:200]
    words = cli.run(env={"_HAUL_COMPLETE": "bash_complete", "COMP_WORDS": "haul qu", "COMP_CWORD": "1"})
    assert "queue" in words.stdout
    states = cli.run(
        env={"_HAUL_COMPLETE": "bash_complete", "COMP_WORDS": "haul ls --state queued,fa", "COMP_CWORD": "3"}
    )
    assert states.stdout.split() == ["plain,queued,failed"], states.stdout
    # A terminal gets colour, unless NO_COLOR says otherwise.
    code, coloured = cli.pty("show", "nope")
    assert code == 4 and colours(coloured), coloured
    code, plain = cli.pty("show", "nope", env={"NO_COLOR": "1"})
    assert code == 4 and "NOT_FOUND" in plain and not colours(plain), plain  # bold may stay: it is no colour


def colours(screen: str) -> set[int]:
    """The colour parameters (30-49, 90-107) of the SGR sequences in ``screen``."""
    found = set()
    for params in re.findall(r"\x1b\[([0-9;]*)m", screen):
        found |= {int(p) for p in params.split(";") if p.isdigit() and (30 <= int(p) <= 49 or 90 <= int(p) <= 107)}
    return found


def test_concurrent_commands_share_one_session(cli: Cli) -> None:
    """Refresh tokens work once: commands that refresh at the same moment must not replay one
    (that would end the session). The store's lock makes them take turns."""
    path = Path(cli.env["HAUL_CONFIG_DIR"]) / "credentials.json"

    def due() -> dict[str, Any] | None:
        # The commands refresh a token with under 30 s left; one that a command just before
        # refreshed has 31 s, so wait (on the token's own exp) until it is due.
        stored = next(iter(json.loads(path.read_text())["servers"].values()))
        expires = token_expiry(stored["access_token"])
        return dict(stored) if expires is not None and expires - time.time() < 29 else None

    before = wait_for(due, 10, what="the stored access token to be due for a refresh")["refresh_token"]
    procs = [subprocess.Popen([str(HAUL), "whoami"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=cli.env) for _ in range(4)]
    results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
    assert all(code == 0 for _, _, code in results), results
    after = json.loads(path.read_text())
    assert next(iter(after["servers"].values()))["refresh_token"] != before
    assert cli.run("whoami").returncode == 0  # the session lives on


def test_watch_shows_active_downloads_full_screen(cli: Cli, origin: Origin) -> None:
    url, _ = serve(origin, 8 * MiB, throttle=2 * MiB)
    added = cli.run("add", url, "--json")
    assert added.returncode == 0, added.stderr
    name = url.rsplit("/", 1)[1]
    code, screen = cli.pty("watch", "--until-done", cols=140)
    assert code == 0, strip_ansi(screen)
    assert "\x1b[?1049h" in screen  # the alternate screen, as a full-screen view
    drawn = strip_ansi(screen)
    assert name in drawn and "haul watch" in drawn and "engine:" in drawn
    assert re.search(re.escape(name) + r".*100\.0%.*completed", drawn), drawn[-2000:]


def test_log_follow_prints_new_entries_live(cli: Cli, origin: Origin) -> None:
    proc = subprocess.Popen([str(HAUL), "log", "--follow", "--limit", "1", "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=cli.env)
    guard = threading.Timer(90, proc.kill)  # a line that never comes fails the test instead of hanging it
    guard.start()
    try:
        assert proc.stdout is not None
        first = json.loads(proc.stdout.readline())  # the history is printed once subscribed
        assert first["message"]
        url, _ = serve(origin, 64 * 1024)
        name = url.rsplit("/", 1)[1]
        assert cli.run("add", url).returncode == 0
        seen = []
        for line in proc.stdout:
            seen.append(json.loads(line))
            if name in seen[-1]["message"] and "completed" in seen[-1]["message"]:
                break
        assert any(name in e["message"] for e in seen)
    finally:
        guard.cancel()
        proc.terminate()
        proc.wait(10)


def _until_connected(proc: subprocess.Popen[str]) -> list[dict[str, Any]]:
    """The JSON lines of `haul add --follow --json` up to its WebSocket's first "connected"."""
    assert proc.stdout is not None
    events: list[dict[str, Any]] = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1] == {"event": "connection", "status": "connected"}:
            break
    return events


def _as_from_a_shell() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _signal_lines(pid: int) -> list[str]:
    """The process's blocked, ignored and caught signal masks (for a failure's message)."""
    status = Path(f"/proc/{pid}/status")
    lines = status.read_text().splitlines() if status.exists() else []
    return [line for line in lines if line.startswith(("SigBlk", "SigIgn", "SigCgt"))]


def test_ctrl_c_leaves_the_download_running(rt: RuntimeProcess, cli: Cli, origin: Origin) -> None:
    # The origin holds the body until the CLI has been interrupted: the download cannot end (and
    # the CLI exit 0 on its own) before the Ctrl-C, as a 10 s throttled one could on a loaded machine.
    hold = threading.Event()
    url, _ = serve(origin, 10 * MiB, hold=hold)
    try:
        # Started as a shell starts a foreground command: Ctrl-C's signal at its default, not blocked.
        # (A child inherits an ignored or blocked SIGINT from the test process; in a full run the CLI
        # once went on after the signal as if it had none: exit 0, or a hang on the held download.)
        proc = subprocess.Popen([str(HAUL), "add", url, "--follow", "--json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=cli.env, preexec_fn=_as_from_a_shell)
        events = _until_connected(proc)
        dispositions = _signal_lines(proc.pid)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130 and err.strip() == "interrupted", (err, dispositions)
    finally:
        hold.set()  # (also when the test failed: nothing held for the next tests of this runtime)
    # Only the client stopped: the download goes on to the end.
    wait_state(rt.api, events[0]["task"]["id"], {"completed"}, timeout=120, headers=admin(rt))
