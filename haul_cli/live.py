"""Live views over the WebSocket (docs/websocket.md): a snapshot, then the changes.

``Board`` is the state of the followed downloads, built from the messages (pure, unit-tested);
``stream`` connects, subscribes and yields messages, reconnecting (and so getting a fresh
snapshot) whenever the connection drops; ``ProgressView`` / ``LineView`` / ``JsonView`` show a
board as bars, as lines, or as JSON lines.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, ProgressColumn, Task, TaskID, TextColumn
from rich.text import Text
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import connect

from .errors import AUTH, FAILED, OK, UNREACHABLE, CliError
from .output import STATE_STYLES, Output
from .units import format_duration, format_size, format_speed

TERMINAL = {"completed", "failed", "cancelled", "removed"}
Msg = dict[str, Any]


@dataclass
class Change:
    """A state a followed download reached (what line and JSON views report)."""

    task: Msg
    previous: str | None


@dataclass
class Board:
    """The followed downloads. ``ids=None`` follows every download the messages mention."""

    ids: set[str] | None = None
    only_active: bool = False  # `watch`: a download first seen already ended is left out
    tasks: dict[str, Msg] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)

    def _wanted(self, task_id: str | None) -> bool:
        return bool(task_id) and (self.ids is None or task_id in self.ids)

    def _merge(self, patch: Msg, *, full: bool) -> Change | None:
        task_id = str(patch.get("id"))
        if not self._wanted(task_id):
            return None
        old = self.tasks.get(task_id)
        if old is not None and (patch.get("updated_at") or "") < (old.get("updated_at") or ""):
            return None  # an older copy arriving late (delivery is at least once)
        if old is None and self.only_active and patch.get("state") in TERMINAL:
            return None
        if old is None:
            self.order.append(task_id)
        merged = dict(patch) if full or old is None else {**old, **patch}
        self.tasks[task_id] = merged
        before = old.get("state") if old else None
        if merged.get("state") != before:
            return Change(merged, before)
        return None

    def apply(self, msg: Msg) -> list[Change]:
        kind = msg.get("type")
        changes: list[Change | None] = []
        if kind == "SYNC_ALL":
            changes = [self._merge(t, full=True) for t in msg.get("tasks") or []]
        elif kind in ("TASK_ADDED", "TASK_UPDATED"):
            changes = [self._merge(msg.get("task") or {}, full=kind == "TASK_ADDED")]
        elif kind == "TASK_BATCH_UPDATE":
            changes = [self._merge(t, full=False) for t in msg.get("tasks") or []]
        elif kind == "TASK_REMOVED":
            task_id = str(msg.get("task_id"))
            if self._wanted(task_id) and self.tasks.get(task_id, {}).get("state") != "removed":
                before = self.tasks.get(task_id, {}).get("state")
                if task_id not in self.tasks:
                    self.order.append(task_id)
                self.tasks[task_id] = {**self.tasks.get(task_id, {"id": task_id}), "state": "removed",
                                       "speed": 0, "eta": None}
                changes = [Change(self.tasks[task_id], before)]
        return [c for c in changes if c is not None]

    def settled(self) -> bool:
        """Every followed download is known and has ended."""
        if self.ids is not None and not self.ids <= set(self.tasks):
            return False
        return all(t.get("state") in TERMINAL for t in self.tasks.values())

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for task in self.tasks.values():
            state = str(task.get("state"))
            out[state] = out.get(state, 0) + 1
        return out

    def exit_code(self) -> int:
        """0 when every followed download completed, 1 otherwise."""
        done = self.tasks.values()
        return OK if done and all(t.get("state") == "completed" for t in done) else FAILED

    def totals(self) -> tuple[int, int | None, int]:
        """Bytes downloaded, bytes in all (None while a size is unknown), total speed."""
        downloaded = sum(int(t.get("downloaded_bytes") or 0) for t in self.tasks.values())
        sizes = [t.get("total_bytes") for t in self.tasks.values() if t.get("state") != "removed"]
        total = None if any(s is None for s in sizes) else sum(int(s) for s in sizes if s is not None)
        speed = sum(int(t.get("speed") or 0) for t in self.tasks.values() if t.get("state") == "downloading")
        return downloaded, total, speed


def summary(board: Board, elapsed: float) -> str:
    counts = board.counts()
    parts = [f"{n} {state}" for state, n in sorted(counts.items())]
    downloaded, _, _ = board.totals()
    rate = f" ({format_speed(downloaded / elapsed)})" if elapsed >= 1 and downloaded else ""
    return f"{', '.join(parts) or 'nothing'}; {format_size(downloaded)} in {format_duration(elapsed)}{rate}"


def engine_line(stats: Msg) -> str:
    return (f"engine: {stats.get('active', 0)} active, {stats.get('queued', 0)} queued, "
            f"{stats.get('paused', 0)} paused, {format_speed(stats.get('total_speed')) or '-'} in all")


# -- the connection -----------------------------------------------------------------------
def stream(url: str, token: Callable[[], str], rooms: list[str], *, on_status: Callable[[str], None] | None = None,
           give_up_after: float = 300.0) -> Iterator[Msg]:
    """Messages of ``rooms``, for ever: each (re)connection subscribes again, and the server
    answers with a fresh SYNC_ALL, so what happened while disconnected is not lost. Gives up
    when no connection could be made for ``give_up_after`` seconds."""
    delay = 0.5
    down_since: float | None = None
    sep = "&" if "?" in url else "?"
    while True:
        try:
            with connect(f"{url}{sep}token={token()}", open_timeout=10, close_timeout=2,
                         max_size=2**21, ping_interval=60) as ws:
                ws.send(json.dumps({"action": "subscribe", "rooms": rooms, "id": "cli"}))
                if on_status:
                    on_status("connected")
                delay, down_since = 0.5, None
                while True:
                    try:
                        raw = ws.recv(timeout=120)
                    except TimeoutError:
                        ws.send(json.dumps({"action": "ping"}))
                        continue
                    try:
                        msg = json.loads(raw)
                    except ValueError:
                        continue
                    if isinstance(msg, dict):
                        if msg.get("type") == "error":
                            err = msg.get("error") or {}
                            if err.get("code") == "NOT_CONNECTED":  # the connection's record expired
                                break
                            raise CliError(str(err.get("message")), FAILED, code=err.get("code"),
                                           request_id=err.get("request_id"))
                        yield msg
                problem = "the server forgot the connection"
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise CliError("the WebSocket refused the credentials: run `haul login`", AUTH) from exc
            problem = f"HTTP {status}"
        except InvalidURI as exc:
            raise CliError(f"not a WebSocket URL: {url} (set HAUL_WS_URL or --ws-url)", UNREACHABLE) from exc
        except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError) as exc:
            problem = type(exc).__name__
        now = time.monotonic()
        down_since = down_since or now
        if now - down_since > give_up_after:
            raise CliError(f"lost the WebSocket at {url} ({problem}) and could not reconnect", UNREACHABLE)
        if on_status:
            on_status(f"reconnecting ({problem})")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)


# -- views --------------------------------------------------------------------------------
class StateColumn(ProgressColumn):
    """A download's state in its colour (the total row: the counts)."""

    def render(self, task: Task) -> Text:
        state = str(task.fields.get("state") or "")
        return Text(state, style=STATE_STYLES.get(state, ""))


class ProgressView:
    """Per-download bars and a total bar, with speed and ETA, redrawn in place (a terminal)."""

    def __init__(self, out: Output, title: str = "total", full_screen: bool = False, header: str | None = None) -> None:
        self.out = out
        self.title = title
        self.header = header
        self.status = "connecting"
        columns = (
            TextColumn("{task.description}", markup=False),
            BarColumn(bar_width=None),
            TextColumn("{task.percentage:>5.1f}%"),
            DownloadColumn(binary_units=True),
            TextColumn("{task.fields[speed]}", style="progress.data.speed"),
            TextColumn("{task.fields[eta]}", style="progress.remaining"),
            StateColumn(),
        )
        self.progress = Progress(*columns, console=out.console, expand=True)
        self.rows: dict[str, TaskID] = {}
        self.total = self.progress.add_task(title, total=None, speed="", eta="", state="")
        self.live = Live(self._render(), console=out.console, refresh_per_second=8, screen=full_screen,
                         transient=full_screen, redirect_stdout=False)

    def _render(self) -> Group:
        parts: list[Any] = [Text(self.header, style="bold")] if self.header else []
        parts.append(self.progress)
        if self.status:
            parts.append(Text(self.status, style="dim"))
        return Group(*parts)

    def __enter__(self) -> ProgressView:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.status = ""
        self.live.update(self._render(), refresh=True)
        self.live.__exit__(*exc)

    def set_status(self, text: str) -> None:
        self.status = "live" if text == "connected" else text
        self.live.update(self._render())

    def update(self, board: Board, changes: list[Change]) -> None:
        for task_id in board.order:
            task = board.tasks[task_id]
            state = str(task.get("state"))
            name = str(task.get("filename") or task.get("url") or task_id)[:40]
            downloading = state == "downloading"
            size = task.get("total_bytes")
            done = int(task.get("downloaded_bytes") or 0)
            if state == "completed" and size is not None:
                done = int(size)
            speed, eta = task.get("speed"), task.get("eta")
            fields: dict[str, Any] = {"speed": format_speed(speed) if downloading and speed else "",
                                      "eta": format_duration(eta) if downloading and eta is not None else "",
                                      "state": state}
            if task_id not in self.rows:
                self.rows[task_id] = self.progress.add_task(name, total=size, completed=done, **fields)
            else:
                self.progress.update(self.rows[task_id], description=name, total=size, completed=done, **fields)
        downloaded, total, speed = board.totals()
        left = (total - downloaded) if total is not None else None
        eta = format_duration(left / speed) if speed and left is not None else ""
        counts = board.counts()
        ended = sum(n for s, n in counts.items() if s in TERMINAL)
        failed = ended - counts.get("completed", 0)
        counts_text = f"{ended}/{len(board.tasks)} done" + (f", {failed} not completed" if failed else "")
        self.progress.update(self.total, total=total, completed=downloaded, speed=format_speed(speed) if speed else "",
                             eta=eta, state=counts_text)
        self.live.update(self._render())


class LineView:
    """One line per state a download reaches (pipes and files: no bars, no colour)."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def __enter__(self) -> LineView:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def set_status(self, text: str) -> None:
        if text != "connected":
            self.out.note(text)

    def update(self, board: Board, changes: list[Change]) -> None:
        for change in changes:
            task = change.task
            size = task.get("total_bytes")
            extra = f" ({format_size(size)})" if task.get("state") == "completed" and size is not None else ""
            if task.get("error") and task.get("state") == "failed":
                extra = f": {task['error']}"
            self.out.line(f"{task.get('id')}\t{task.get('filename') or task.get('url')}\t{task.get('state')}{extra}")


class JsonView(LineView):
    """One JSON line per state a download reaches."""

    def set_status(self, text: str) -> None:
        self.out.emit({"event": "connection", "status": text})

    def update(self, board: Board, changes: list[Change]) -> None:
        for change in changes:
            self.out.emit({"event": "state", "previous_state": change.previous, "task": change.task})


def view_for(out: Output, title: str = "total", full_screen: bool = False,
             header: str | None = None) -> ProgressView | LineView:
    if out.json:
        return JsonView(out)
    if out.tty:
        return ProgressView(out, title, full_screen, header)
    return LineView(out)


def follow(out: Output, url: str, token: Callable[[], str], board: Board, rooms: list[str],
           until_settled: bool = True, full_screen: bool = False, title: str = "total",
           header: str | None = None) -> int:
    """Show ``board`` live until every followed download ended; the exit code says how."""
    began = time.monotonic()
    synced = False
    with view_for(out, title, full_screen, header) as view:
        for msg in stream(url, token, rooms, on_status=view.set_status):
            if msg.get("type") == "ENGINE_STATS" and isinstance(view, ProgressView):
                view.set_status(engine_line(msg.get("stats") or {}))
                continue
            changes = board.apply(msg)
            view.update(board, changes)
            synced = synced or (msg.get("type") == "SYNC_ALL" and bool(msg.get("complete", True)))
            if until_settled and synced and board.settled():
                break
    code = board.exit_code()
    if out.json:
        out.emit({"event": "done", "counts": board.counts(), "exit_code": code})
    else:
        out.note(summary(board, time.monotonic() - began))
    return code
