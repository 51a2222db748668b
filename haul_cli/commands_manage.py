"""batch, queue, settings, stats, log."""

from __future__ import annotations

from typing import Any

import click

from .cli import Env, fail_usage, json_option, pass_env, root
from .commands_downloads import follow_tasks
from .live import stream
from .output import TASK_COLUMNS, state_text, task_row
from .units import (
    format_age,
    format_duration,
    format_size,
    format_speed,
    nest_settings,
    parse_assignment,
    parse_duration,
    progress_bar_text,
)


# -- batch --------------------------------------------------------------------------------
@root.group(cls=click.Group)
def batch() -> None:
    """Batches: many downloads added together (haul add --batch NAME URL...)."""


def _batch_row(b: dict[str, Any]) -> list[Any]:
    return [
        b.get("id"),
        b.get("name") or "-",
        state_text(b.get("state")),
        b.get("items"),
        f"{b.get('completed', 0)}/{b.get('failed', 0)}/{b.get('active', 0)}",
        f"{float(b.get('progress') or 0):.1f}%",
        format_size(b.get("total_bytes")),
        format_age(b.get("created_at")),
    ]


BATCH_COLUMNS = ("ID", "NAME", "STATE", "ITEMS", "DONE/FAILED/ACTIVE", "PROGRESS", "SIZE", "ADDED")


@batch.command("ls")
@click.option("-a", "--all", "everything", is_flag=True, help="Every batch, page after page.")
@json_option
@pass_env
def batch_ls(env: Env, everything: bool) -> None:
    """List your batches, newest first."""
    api = env.api()
    batches = api.pages("/batches", "batches") if everything else iter(api.get("/batches").get("batches") or [])
    if env.out.json:
        for b in batches:
            env.out.emit(b)
        return
    env.out.table(BATCH_COLUMNS, (_batch_row(b) for b in batches))


@batch.command("show")
@click.argument("batch_id", metavar="ID")
@click.option("-f", "--follow", "follow_", is_flag=True, help="Then show its downloads live until they end.")
@json_option
@pass_env
def batch_show(env: Env, batch_id: str, follow_: bool) -> None:
    """A batch's summary and its downloads."""
    api = env.api()
    body = api.get(f"/batches/{batch_id}")
    tasks = list(body.get("tasks") or [])
    cursor = body.get("next_cursor")
    while cursor:
        page = api.get(f"/batches/{batch_id}", cursor=cursor)
        tasks += page.get("tasks") or []
        cursor = page.get("next_cursor")
    summary = body.get("batch") or {}
    if env.out.json:
        env.out.emit({"batch": summary, "tasks": tasks})
    else:
        env.out.fields(
            [
                ("batch", summary.get("id")),
                ("name", summary.get("name")),
                ("state", state_text(summary.get("state"))),
                (
                    "progress",
                    f"{progress_bar_text(summary.get('progress'))}  {format_size(summary.get('downloaded_bytes'))}"
                    f" of {format_size(summary.get('total_bytes'))}",
                ),
                ("items", _items_summary(summary)),
                ("created", summary.get("created_at")),
            ]
        )
        env.out.line()
        env.out.table(TASK_COLUMNS, (task_row(t) for t in tasks))
    if follow_ and tasks:
        code = follow_tasks(env, [t["id"] for t in tasks], title=str(summary.get("name") or batch_id))
        if code:
            raise click.exceptions.Exit(code)


def _items_summary(summary: dict[str, Any]) -> str:
    by_state = summary.get("by_state") or {}
    counts = ", ".join(f"{n} {s}" for s, n in by_state.items() if n)
    return f"{summary.get('items')} ({counts})"


def _batch_action(action: str, help_text: str) -> None:
    @batch.command(action, help=help_text)
    @click.argument("batch_id", metavar="ID")
    @json_option
    @pass_env
    def command(env: Env, batch_id: str) -> None:
        path = "retry-failed" if action == "retry" else action
        answer = env.api().post(f"/batches/{batch_id}/{path}")
        if env.out.json:
            env.out.emit(answer)
        else:
            env.out.line(f"{action}: {answer.get('affected')} affected, {answer.get('skipped')} skipped, "
                         f"{answer.get('failed')} failed")
        if answer.get("failed"):
            raise click.exceptions.Exit(1)


_batch_action("pause", "Pause every download of a batch that can be paused.")
_batch_action("resume", "Resume every paused download of a batch.")
_batch_action("retry", "Retry every failed download of a batch.")


@batch.command("rm")
@click.argument("batch_id", metavar="ID")
@click.option("--delete-files", is_flag=True, help="Delete the stored files too.")
@json_option
@pass_env
def batch_rm(env: Env, batch_id: str, delete_files: bool) -> None:
    """Delete a batch and its downloads (cancelling running ones)."""
    answer = env.api().delete(f"/batches/{batch_id}", delete_files="true" if delete_files else None)
    env.out.result(answer or {"id": batch_id, "deleted": True}, f"removed batch {batch_id}")


# -- queue --------------------------------------------------------------------------------
@root.group()
def queue() -> None:
    """The download queue: its state, start/stop, a timed pause, order."""


@queue.command("status")
@json_option
@pass_env
def queue_status(env: Env) -> None:
    """Whether the queue runs, and what waits in it."""
    q = env.api().get("/queue")
    if env.out.json:
        env.out.emit(q)
        return
    s = q.get("statistics") or {}
    state = str(q.get("state"))
    if q.get("paused_until"):
        state += f" until {q['paused_until']}"
    env.out.fields(
        [
            ("queue", state),
            ("changed", f"{q.get('changed_at')} by {q.get('changed_by')}" if q.get("changed_at") else None),
            ("active", s.get("active_count")),
            ("waiting", s.get("pending_count")),
            ("paused", s.get("paused_count")),
            ("completed", s.get("completed_count")),
            ("failed", s.get("failed_count")),
            ("bytes", f"{format_size(s.get('downloaded_bytes'))} of {format_size(s.get('total_bytes'))}"),
            ("speed", format_speed(s.get("average_speed"))),
            ("eta", format_duration(s.get("estimated_time_remaining"))),
        ]
    )


def _queue_change(env: Env, path: str, body: dict[str, Any] | None = None) -> None:
    q = env.api().post(path, body)
    if env.out.json:
        env.out.emit(q)
    else:
        until = f" until {q['paused_until']}" if q.get("paused_until") else ""
        env.out.line(f"queue {q.get('state')}{until}")


@queue.command("start")
@json_option
@pass_env
def queue_start(env: Env) -> None:
    """Start the queue (also ends a timed pause early). Admins."""
    _queue_change(env, "/queue/start")


@queue.command("stop")
@json_option
@pass_env
def queue_stop(env: Env) -> None:
    """Stop the queue: parts in flight land, nothing new starts. Admins."""
    _queue_change(env, "/queue/stop")


@queue.command("pause")
@click.argument("duration", metavar="DURATION")
@json_option
@pass_env
def queue_pause(env: Env, duration: str) -> None:
    """Pause the queue for DURATION (90s, 30m, 2h, 1h30m; up to 30 days); it starts again by itself. Admins."""
    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise fail_usage(str(exc)) from exc
    _queue_change(env, "/queue/pause", {"seconds": seconds})


@queue.command("move")
@click.argument("task_id", metavar="ID")
@click.argument("where", type=click.Choice(["top", "bottom"]))
@json_option
@pass_env
def queue_move(env: Env, task_id: str, where: str) -> None:
    """Move a queued or paused download to the top or bottom of the queue (within its priority)."""
    task = env.api().post(f"/downloads/{task_id}/move", {"to": where})
    env.out.result(task, f"moved {task_id} to the {where}")


# -- settings -----------------------------------------------------------------------------
@root.group()
def settings() -> None:
    """Engine settings (section.key names, as in README's table)."""


def _flatten(body: dict[str, Any]) -> list[tuple[str, Any]]:
    out = []
    for section, values in body.items():
        if isinstance(values, dict):
            out += [(f"{section}.{k}", v) for k, v in values.items()]
    return out


@settings.command("get")
@click.argument("keys", nargs=-1, metavar="[KEY...]")
@json_option
@pass_env
def settings_get(env: Env, keys: tuple[str, ...]) -> None:
    """Show the settings, or some of them (transfer.part_size, or a whole section: transfer)."""
    body = env.api().get("/settings")
    pairs = _flatten(body)
    if keys:
        pairs = [
            (k, v)
            for k, v in pairs
            if any(k == want or k.startswith(want + ".") or k.split(".", 1)[1] == want for want in keys)
        ]
        if not pairs:
            raise fail_usage(f"no such setting: {', '.join(keys)} (haul settings get lists them)")
    if env.out.json:
        env.out.emit(dict(pairs) if keys else body)
        return
    env.out.table(("KEY", "VALUE"), pairs)
    if not keys:
        env.out.note(f"version {body.get('version')}, changed {body.get('updated_at') or 'never'}"
                     f"{' by ' + str(body['updated_by']) if body.get('updated_by') else ''}")


@settings.command("set")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@json_option
@pass_env
def settings_set(env: Env, assignments: tuple[str, ...]) -> None:
    """Change settings: haul settings set transfer.part_size=32M queue.max_concurrent_downloads=5. Admins."""
    try:
        pairs = [parse_assignment(a) for a in assignments]
    except ValueError as exc:
        raise fail_usage(str(exc)) from exc
    body = env.api().patch("/settings", nest_settings(pairs))
    if env.out.json:
        env.out.emit(body)
        return
    current = dict(_flatten(body))
    for key, _ in pairs:
        shown = key if key in current else next((k for k in current if k.endswith("." + key)), key)
        env.out.line(f"{shown} = {current.get(shown)}")
    env.out.note(f"settings version {body.get('version')}")


# -- stats, log ---------------------------------------------------------------------------
@root.command()
@json_option
@pass_env
def stats(env: Env) -> None:
    """Downloads per state, speed, bytes left; today / this week / this month / in all."""
    api = env.api()
    engine = api.get("/stats/engine")
    overview = api.get("/stats/overview")
    if env.out.json:
        env.out.emit({"engine": engine, "overview": overview})
        return
    by_state = engine.get("by_state") or {}
    env.out.fields(
        [
            ("now", ", ".join(f"{n} {s}" for s, n in by_state.items() if n) or "nothing"),
            ("speed", format_speed(engine.get("total_speed"))),
            ("left", f"{format_size(engine.get('remaining_bytes'))}, eta {format_duration(engine.get('eta'))}"),
            (
                "success rate",
                f"{float(overview.get('success_rate') or 0) * 100:.1f}%"
                if overview.get("success_rate") is not None
                else None,
            ),
            ("stored", format_size(overview.get("bytes_stored"))),
        ]
    )
    env.out.line()
    periods = ("today", "this_week", "this_month", "total")
    rows = []
    for label in ("downloads", "completed", "failed"):
        values = overview.get(label) or {}
        rows.append([label, *[values.get(p, 0) for p in periods]])
    data = overview.get("bytes") or {}
    rows.append(["bytes", *[format_size(data.get(p, 0)) for p in periods]])
    env.out.table(("", "TODAY", "THIS WEEK", "THIS MONTH", "TOTAL"), rows)


def _log_line(entry: dict[str, Any]) -> str:
    return (
        f"{entry.get('at') or entry.get('timestamp')}  {str(entry.get('level') or '').upper():7} {entry.get('message')}"
    )


@root.command()
@click.option("-n", "--limit", default=50, show_default=True, help="How many of the newest entries.")
@click.option("--level", type=click.Choice(["debug", "info", "warning", "error"]), help="This level and above.")
@click.option("--kind", help="A kind or a dotted prefix: task, queue, settings.change...")
@click.option("--task", "task_id", metavar="ID", help="One download's entries.")
@click.option("-q", "--search", metavar="TEXT", help="Text in the message.")
@click.option(
    "-f", "--follow", "follow_", is_flag=True, help="Then keep printing new lines as they happen (Ctrl-C stops)."
)
@json_option
@pass_env
def log(env: Env, limit: int, level: str | None, kind: str | None, task_id: str | None, search: str | None,
        follow_: bool) -> None:
    """The activity log: state changes and user actions, oldest of the shown first."""
    api = env.api()

    def history() -> None:
        body = api.get("/activity", per_page=max(1, min(limit, 500)), level=level, kind=kind, task_id=task_id, q=search)
        for entry in reversed(body.get("entries") or []):
            env.out.result(entry, _log_line(entry))

    if not follow_:
        history()
        return
    # Subscribed first, then the history: nothing falls between the two.
    shown = False
    for msg in stream(api.ws_url(), api.token, ["logs"]):
        if msg.get("type") == "subscribed" and not shown:
            history()
            shown = True
        if msg.get("type") != "log":
            continue
        data = {"at": msg.get("timestamp"), **(msg.get("data") or {})}
        if task_id and data.get("task_id") != task_id:
            continue
        env.out.result(data, _log_line(data))
