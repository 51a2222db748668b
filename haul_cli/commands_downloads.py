"""add, ls, show, pause/resume/retry/cancel/rm, get, watch."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import click
import httpx
from click.shell_completion import CompletionItem
from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, Task, TextColumn, TimeRemainingColumn
from rich.text import Text

from .api import Api
from .cli import Env, fail_usage, json_option, pass_env, root
from .errors import CHECKSUM, CONFLICT, FAILED, OK, UNREACHABLE, CliError
from .live import Board, follow
from .output import TASK_COLUMNS, task_fields, task_row
from .units import format_size, format_speed, parse_header, parse_size

BULK_MAX = 500  # ids per POST /downloads/bulk and items per POST /batches
ROOMS_MAX = 100  # rooms per WebSocket connection


class SpeedColumn(ProgressColumn):
    """The transfer's speed in binary units (MiB/s), as everywhere else in haul."""

    def render(self, task: Task) -> Text:
        return Text(format_speed(task.finished_speed or task.speed), style="progress.data.speed")


class SizeType(click.ParamType):
    name = "SIZE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_size(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


STATES = ("queued", "downloading", "paused", "completed", "failed", "cancelled")


def complete_states(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of --state: the states, after any already given in a comma list."""
    done, _, last = incomplete.rpartition(",")
    prefix = done + "," if done else ""
    return [CompletionItem(prefix + s) for s in STATES if s.startswith(last)]


def _states(values: tuple[str, ...]) -> str | None:
    states = [s.strip() for v in values for s in v.split(",") if s.strip()]
    return ",".join(states) or None


def _read_urls(urls: tuple[str, ...], input_file: str | None) -> list[str]:
    found = list(urls)
    if input_file:
        text = sys.stdin.read() if input_file == "-" else Path(input_file).read_text()
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                found.append(line)
    return found


def follow_tasks(env: Env, ids: list[str], title: str = "total") -> int:
    """Live bars (or lines) until every one of ``ids`` ended; 0 if all completed."""
    api = env.api()
    rooms = [f"download:{i}" for i in ids] if len(ids) <= ROOMS_MAX else ["downloads"]
    board = Board(ids=set(ids))
    return follow(env.out, api.ws_url(), api.token, board, rooms, title=title)


# -- add ----------------------------------------------------------------------------------
@root.command()
@click.argument("urls", nargs=-1, metavar="URL...")
@click.option(
    "-i", "--input-file", metavar="FILE|-", help="Read URLs from FILE (one per line; '#' comments) or '-' for stdin."
)
@click.option("--batch", "batch_name", metavar="NAME", help="Add them as one batch with this name.")
@click.option("--filename", help="Store it under this name (one URL only).")
@click.option("--checksum", metavar="ALGO:HEX", help="Verify the file: sha256:<hex> (also sha1, sha512, md5).")
@click.option(
    "-H",
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="A request header for the origin (repeatable).",
)
@click.option("--priority", metavar="LOW|NORMAL|HIGH|N", help="LOW, NORMAL, HIGH, or a number from -100 to 100.")
@click.option("--category", help="A category.")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option(
    "--speed-limit", type=SizeType(), metavar="SIZE", help="Bytes per second for each download: 500K, 5M (0: none)."
)
@click.option(
    "--allow-duplicate", is_flag=True, help="Add it even if the same URL is already queued, running or completed."
)
@click.option("-f", "--follow", "follow_", is_flag=True,
              help="Show live progress until they end; exit 0 only if all completed.")
@json_option
@pass_env
def add(env: Env, urls: tuple[str, ...], input_file: str | None, batch_name: str | None, filename: str | None,
        checksum: str | None, headers: tuple[str, ...], priority: str | None, category: str | None,
        tags: tuple[str, ...], speed_limit: int | None, allow_duplicate: bool, follow_: bool) -> None:
    """Add downloads: one or more URLs, or a list of them with -i.

    One URL makes one download; several (or --batch) make a batch, in one request per 500
    (more than 500 URLs make a batch per 500).
    A URL already queued, running or completed is not added twice (unless --allow-duplicate):
    you get the existing download. With --follow the command stays, shows per-download and
    total progress bars with speed and ETA, and exits 0 when every download completed.
    """
    items = _read_urls(urls, input_file)
    if not items:
        raise fail_usage("no URL given (as arguments, or with -i FILE)")
    if filename and len(items) > 1:
        raise fail_usage("--filename names one download: give one URL")
    try:
        header_map = dict(parse_header(h) for h in headers)
    except ValueError as exc:
        raise fail_usage(str(exc)) from exc
    options: dict[str, Any] = {"filename": filename, "checksum": checksum, "headers": header_map or None,
                               "priority": _priority(priority), "category": category, "tags": list(tags) or None,
                               "speed_limit": speed_limit, "allow_duplicate": allow_duplicate or None}
    options = {k: v for k, v in options.items() if v is not None}
    api = env.api()
    out = env.out
    added: list[dict[str, Any]] = []
    failures = 0
    if len(items) == 1 and not batch_name:
        answer = api.request("POST", "/downloads", json={"url": items[0], **options})
        task = answer.json()
        added.append(task)
        _report_added(env, task, answer.headers.get("X-Duplicate-Of"), follow_)
    else:
        for start in range(0, len(items), BULK_MAX):
            chunk = items[start:start + BULK_MAX]
            defaults = {k: v for k, v in options.items() if k != "filename"}  # a name is per item
            entries = [{"url": u, "filename": filename} if filename else {"url": u} for u in chunk]
            body: dict[str, Any] = {"items": entries, "defaults": defaults}
            if batch_name:
                body["name"] = batch_name
            answer = api.request("POST", "/batches", json=body).json()
            tasks = {t["id"]: t for t in answer.get("tasks") or []}
            fresh = existing = 0
            for result in answer.get("results") or []:
                url = chunk[int(result.get("index", 0))]
                if result.get("ok"):
                    task = tasks.get(result.get("task_id")) or api.get(f"/downloads/{result.get('task_id')}")
                    added.append(task)
                    existing += 1 if result.get("duplicate") else 0
                    fresh += 0 if result.get("duplicate") else 1
                    _report_added(env, task, result.get("task_id") if result.get("duplicate") else None, follow_)
                else:
                    failures += 1
                    err = result.get("error") or {}
                    _report_item_error(env, url, err)
            if not out.json and answer.get("batch"):
                there = f", {existing} already there" if existing else ""
                out.note(f"batch {answer['batch'].get('id')} ({answer['batch'].get('name') or 'unnamed'}): "
                         f"{fresh} added{there}")
    code = OK
    if follow_ and added:
        code = follow_tasks(env, [t["id"] for t in added])
    if failures:
        code = FAILED
    if code:
        raise click.exceptions.Exit(code)


def _priority(value: str | None) -> str | int | None:
    if value is None:
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    return value.upper()


def _report_added(env: Env, task: dict[str, Any], duplicate_of: str | None, following: bool) -> None:
    if env.out.json:
        record = {"event": "added", "task": task, "duplicate": bool(duplicate_of)} if following else task
        env.out.emit(record)
        return
    label = "exists" if duplicate_of else "added"
    name = task.get("filename") or task.get("url")
    if env.out.tty:
        env.out.line(Text.assemble(f"{label} {name}  ", (str(task.get("id")), "dim"), f"  {task.get('state')}"))
    else:
        env.out.line(f"{label}\t{task.get('id')}\t{name}\t{task.get('state')}")


def _report_item_error(env: Env, url: str, err: dict[str, Any]) -> None:
    if env.out.json:
        env.out.emit({"event": "error", "url": url, "error": err})
    else:
        env.out.err.print(f"error: {url}: {err.get('code')}: {err.get('message')}", style="red", markup=False)


# -- ls, show -----------------------------------------------------------------------------
@root.command("ls")
@click.option("-s", "--state", "states", multiple=True, metavar="STATE", shell_complete=complete_states,
              help="queued, downloading, paused, completed, failed, cancelled (repeatable or comma-separated).")
@click.option("-b", "--batch", "batch_id", metavar="ID", help="Only this batch's downloads.")
@click.option("-q", "--search", metavar="TEXT", help="Text in the file name or the URL.")
@click.option("--category", help="Only this category.")
@click.option("--tag", help="Only this tag.")
@click.option(
    "--sort",
    type=click.Choice(["-created_at", "created_at", "queue"]),
    help="Newest first (default), oldest first, or queue order.",
)
@click.option(
    "-a",
    "--all",
    "everything",
    is_flag=True,
    help="Every matching download, page after page (default: the first --limit).",
)
@click.option("-n", "--limit", default=50, show_default=True, help="How many without --all.")
@click.option(
    "--page-size", default=500, show_default=True, type=click.IntRange(1, 500), help="Downloads per request with --all."
)
@json_option
@pass_env
def ls(env: Env, states: tuple[str, ...], batch_id: str | None, search: str | None, category: str | None,
       tag: str | None, sort: str | None, everything: bool, limit: int, page_size: int) -> None:
    """List downloads, newest first (an admin's list filtered by state comes state by state, in queue order)."""
    api = env.api()
    params = {
        "status": _states(states),
        "batch_id": batch_id,
        "q": search,
        "category": category,
        "tag": tag,
        "sort": sort,
    }
    if everything:
        tasks = api.pages("/downloads", "tasks", per_page=page_size, **params)
        total = None
    else:
        body = api.get("/downloads", per_page=max(1, min(limit, 500)), **params)
        tasks = iter(body.get("tasks") or [])
        total = body.get("total")
    if env.out.json:
        for task in tasks:
            env.out.emit(task)
        return
    shown = env.out.table(TASK_COLUMNS, (task_row(t) for t in tasks))
    if total is not None and total > shown:
        env.out.note(f"{shown} of {total} shown; --all lists every one")
    elif shown == 0 and env.out.tty:
        env.out.note("no downloads")


@root.command()
@click.argument("task_id", metavar="ID")
@json_option
@pass_env
def show(env: Env, task_id: str) -> None:
    """Everything about one download."""
    task = env.api().get(f"/downloads/{task_id}")
    if env.out.json:
        env.out.emit(task)
    else:
        env.out.fields(task_fields(task))


# -- actions ------------------------------------------------------------------------------
ACTIONS = {
    # action: (past tense, the states --all means, help)
    "pause": ("paused", "queued,downloading", "Pause downloads (queued or downloading)."),
    "resume": ("resumed", "paused", "Resume paused downloads."),
    "retry": ("retried", "failed,cancelled", "Retry failed or cancelled downloads from where they stopped."),
    "cancel": ("cancelled", "queued,downloading,paused", "Cancel downloads (the parts stored so far are dropped)."),
    "delete": ("removed", "completed,failed,cancelled", "Remove downloads (cancelling running ones first)."),
}


def _select(api: Api, states: str | None, batch_id: str | None) -> list[str]:
    return [t["id"] for t in api.pages("/downloads", "tasks", per_page=500, status=states, batch_id=batch_id)]


def run_action(env: Env, action: str, ids: list[str], delete_file: bool = False) -> int:
    """One request per id for a single id, else POST /downloads/bulk per 500; prints a result
    per id. The exit code: 0, or the failure's own code for a single id, or 1 if some failed."""
    api = env.api()
    out = env.out
    past = ACTIONS[action][0]
    if len(ids) == 1:
        path = f"/downloads/{ids[0]}" if action == "delete" else f"/downloads/{ids[0]}/{action}"
        if action == "delete":
            api.delete(path, delete_file="true" if delete_file else None)
            result: dict[str, Any] = {"id": ids[0], "ok": True, "state": "removed"}
        else:
            task = api.post(path)
            result = {"id": ids[0], "ok": True, "state": task.get("state")}
        _print_result(env, past, result)
        return OK
    failed = 0
    for start in range(0, len(ids), BULK_MAX):
        body: dict[str, Any] = {"action": action, "ids": ids[start:start + BULK_MAX]}
        if delete_file:
            body["delete_file"] = True
        answer = api.post("/downloads/bulk", body)
        for result in answer.get("results") or []:
            failed += 0 if result.get("ok") else 1
            _print_result(env, past, result)
    if not out.json:
        out.note(f"{len(ids) - failed} {past}, {failed} failed" if failed else f"{len(ids)} {past}")
    return FAILED if failed else OK


def _print_result(env: Env, past: str, result: dict[str, Any]) -> None:
    if env.out.json:
        env.out.emit(result)
    elif result.get("ok"):
        env.out.line(f"{past}\t{result.get('id')}\t{result.get('state') or ''}".rstrip())
    else:
        err = result.get("error") or {}
        env.out.err.print(
            f"error: {result.get('id')}: {err.get('code')}: {err.get('message')}", style="red", markup=False
        )


def _action_command(action: str, name: str) -> None:
    past, all_states, help_text = ACTIONS[action]

    @root.command(name, help=help_text + "\n\nGive IDs, or select them: --all (every download where it makes sense: "
                  f"{all_states}), --all-failed, --state, --batch. Several IDs go in one bulk request per 500.")
    @click.argument("ids", nargs=-1, metavar="[ID...]")
    @click.option("--all", "everything", is_flag=True, help=f"Every download in {all_states}.")
    @click.option("--all-failed", is_flag=True, help="Every failed download.")
    @click.option(
        "-s",
        "--state",
        "states",
        multiple=True,
        metavar="STATE",
        shell_complete=complete_states,
        help="Every download in these states.",
    )
    @click.option("-b", "--batch", "batch_id", metavar="ID", help="With --all/--state: only this batch's downloads.")
    @json_option
    @pass_env
    def command(env: Env, ids: tuple[str, ...], everything: bool, all_failed: bool, states: tuple[str, ...],
                batch_id: str | None, delete_file: bool = False, yes: bool = False) -> None:
        selected = list(ids)
        chosen = _states(states) or (all_states if everything else None) or ("failed" if all_failed else None)
        if chosen:
            selected += _select(env.api(), chosen, batch_id)
        elif batch_id:
            raise fail_usage("--batch selects among --all, --all-failed or --state")
        if not selected:
            if chosen:
                if not env.out.json:
                    env.out.note(f"nothing to {action}: no download in {chosen}")
                return
            raise fail_usage(f"which downloads? give IDs, or --all, --all-failed, --state (see haul {name} --help)")
        selected = list(dict.fromkeys(selected))
        if chosen and action in ("cancel", "delete") and not yes:
            if not sys.stdin.isatty():
                raise fail_usage(f"{name} {len(selected)} downloads selected by state: confirm with --yes")
            click.confirm(f"{name} {len(selected)} downloads ({chosen})?", abort=True, err=True)
        code = run_action(env, action, selected, delete_file)
        if code:
            raise click.exceptions.Exit(code)

    if action == "delete":
        click.option("--delete-file", is_flag=True, help="Delete the stored files too.")(command)
    if action in ("cancel", "delete"):
        click.option("-y", "--yes", is_flag=True,
                     help="Do not ask before acting on downloads selected by --all/--all-failed/--state.")(command)


for _action, _name in (
    ("pause", "pause"),
    ("resume", "resume"),
    ("retry", "retry"),
    ("cancel", "cancel"),
    ("delete", "rm"),
):
    _action_command(_action, _name)


# -- get ----------------------------------------------------------------------------------
def _stream_file(
    out: Any, link: str, target: str, part: str, digests: dict[str, Any], task: dict[str, Any]
) -> int:
    """Write the file at ``link`` to ``part`` (or stdout when ``target`` is '-'), feeding every
    digest, with a progress bar on a terminal; the number of bytes written."""
    to_stdout = target == "-"
    size = 0
    with httpx.stream("GET", link, timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=True) as answer:
        if answer.status_code != 200:
            raise CliError(f"the storage answered HTTP {answer.status_code} for the file", FAILED)
        total = int(answer.headers.get("Content-Length") or task.get("total_bytes") or 0) or None
        sink = sys.stdout.buffer if to_stdout else open(part, "wb")
        bar = Progress(
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            DownloadColumn(binary_units=True),
            SpeedColumn(),
            TimeRemainingColumn(),
            console=out.err if to_stdout else out.console,
            disable=not (out.tty and not to_stdout),
        )
        try:
            with bar:
                row = bar.add_task(os.path.basename(target) if not to_stdout else "stdout", total=total)
                for chunk in answer.iter_bytes(1 << 20):
                    sink.write(chunk)
                    for digest in digests.values():
                        digest.update(chunk)
                    size += len(chunk)
                    bar.update(row, completed=size)
        finally:
            if not to_stdout:
                sink.close()
    return size


def _mismatches(task: dict[str, Any], size: int, algo: str, expected: str, digests: dict[str, Any]) -> list[str]:
    """What about the fetched file does not match the download: its size, its checksum."""
    problems = []
    if task.get("total_bytes") is not None and size != int(task["total_bytes"]):
        problems.append(f"size {size} bytes, expected {task['total_bytes']}")
    if algo and expected and digests[algo].hexdigest() != expected.lower():
        problems.append(f"{algo} {digests[algo].hexdigest()}, expected {expected}")
    return problems


@root.command()
@click.argument("task_id", metavar="ID")
@click.option("-o", "--output", metavar="FILE", help="Where to write it (default: its name, here; '-' for stdout).")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@json_option
@pass_env
def get(env: Env, task_id: str, output: str | None, force: bool) -> None:
    """Fetch a completed download's stored file through its presigned link.

    Shows a progress bar on a terminal, then checks the size and the checksum (the one given
    when it was added; SHA-256 is always computed and printed). Exit 10 if they do not match.
    """
    api = env.api()
    out = env.out
    task = api.get(f"/downloads/{task_id}")
    if task.get("state") != "completed":
        raise CliError(f"download {task_id} is {task.get('state')}, not completed: nothing to fetch yet", CONFLICT,
                       code="NOT_COMPLETED")
    target = output or str(task.get("filename") or task_id)
    to_stdout = target == "-"
    if to_stdout and out.json:
        raise fail_usage("-o - writes the file to stdout: --json has no room there")
    if not to_stdout and os.path.exists(target) and not force:
        raise fail_usage(f"{target} exists: use --force to overwrite, or -o another name")
    link = api.file_url(task_id)
    algo, _, expected = str(task.get("checksum") or "").partition(":")
    digests = {"sha256": hashlib.sha256()}
    if algo and algo not in digests:
        digests[algo] = hashlib.new(algo)
    part = f"{target}.part"
    try:
        size = _stream_file(out, link, target, part, digests, task)
    except httpx.TransportError as exc:
        if not to_stdout and os.path.exists(part):
            os.remove(part)
        raise CliError(f"the file transfer broke: {exc}", UNREACHABLE) from exc
    problems = _mismatches(task, size, algo, expected, digests)
    if problems:
        if not to_stdout:
            os.remove(part)
        raise CliError("the fetched file does not match: " + "; ".join(problems), CHECKSUM, code="CHECKSUM_MISMATCH")
    if not to_stdout:
        os.replace(part, target)
    result = {"id": task_id, "path": None if to_stdout else os.path.abspath(target), "bytes": size,
              "sha256": digests["sha256"].hexdigest(), "checksum": "verified" if algo and expected else "none given"}
    if out.json:
        out.emit(result)
    elif not to_stdout:
        verdict = f"{algo} verified" if algo and expected else "no checksum given to check"
        out.line(f"saved {target} ({format_size(size)}, {verdict})")
        out.line(f"{result['sha256']}  {target}")  # sha256sum's format: `sha256sum -c` reads it


# -- watch --------------------------------------------------------------------------------
@root.command()
@click.option("-b", "--batch", "batch_id", metavar="ID", help="Only this batch.")
@click.option(
    "--until-done", is_flag=True, help="Exit when nothing is queued, downloading or paused (0 if all completed)."
)
@json_option
@pass_env
def watch(env: Env, batch_id: str | None, until_done: bool) -> None:
    """A live full-screen view of your active downloads (Ctrl-C leaves).

    Queued, downloading and paused downloads, and those added while it runs, with a bar, speed
    and ETA each, the total, and the engine's figures. Live over the WebSocket; it reconnects
    by itself. Piped or with --json it prints a line per state change instead.
    """
    api = env.api()
    rooms = [f"batch:{batch_id}"] if batch_id else ["downloads"]
    board = Board(ids=None, only_active=True)
    code = follow(env.out, api.ws_url(), api.token, board, [*rooms, "stats"], until_settled=until_done,
                  full_screen=env.out.tty, header=f"haul watch  {api.url}{'  batch ' + batch_id if batch_id else ''}"
                  "  (Ctrl-C leaves)")
    if code:
        raise click.exceptions.Exit(code)
