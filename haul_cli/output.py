"""What the commands print: JSON (one object, or JSON lines), tables and lines for people.

Colour and bars only on a terminal: rich turns colour off for ``NO_COLOR`` and for pipes, and
the commands print plain lines (tab-separated tables) when stdout is not a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .errors import CliError
from .units import format_age, format_duration, format_size, format_speed, progress_bar_text

STATE_STYLES = {
    "queued": "cyan", "downloading": "blue", "paused": "yellow", "completed": "green",
    "failed": "red", "cancelled": "magenta", "removed": "dim",
}


class Output:
    def __init__(self, as_json: bool = False, no_color: bool = False) -> None:
        self.json = as_json
        no_color = no_color or "NO_COLOR" in os.environ
        self.console = Console(no_color=no_color, highlight=False, soft_wrap=False)
        self.err = Console(stderr=True, no_color=no_color, highlight=False)

    @property
    def tty(self) -> bool:
        """Whether people watch stdout (bars and colours) rather than a pipe or a file."""
        return self.console.is_terminal and not self.json

    # -- machine output --------------------------------------------------------------------
    def emit(self, obj: Any) -> None:
        """One JSON object on one line."""
        sys.stdout.write(json.dumps(obj, separators=(",", ":"), default=str) + "\n")
        sys.stdout.flush()

    # -- human output ----------------------------------------------------------------------
    def line(self, text: str | Text = "", style: str | None = None) -> None:
        if self.tty:
            self.console.print(text, style=style, markup=False)
        else:
            sys.stdout.write((text.plain if isinstance(text, Text) else str(text)) + "\n")
            sys.stdout.flush()

    def result(self, obj: Any, text: str | Text) -> None:
        """What a command did: ``obj`` as JSON with --json, else ``text`` for people."""
        if self.json:
            self.emit(obj)
        else:
            self.line(text)

    def note(self, text: str) -> None:
        """A remark for people (counts, hints) on stderr, so stdout stays data."""
        self.err.print(text, style="dim", markup=False)

    def error(self, err: CliError) -> None:
        if self.json:
            sys.stderr.write(json.dumps(err.as_json(), separators=(",", ":")) + "\n")
        else:
            self.err.print(err.line(), style="bold red", markup=False, soft_wrap=True)

    def table(self, columns: Sequence[str], rows: Iterable[Sequence[Any]], title: str | None = None) -> int:
        """A table on a terminal; tab-separated lines with a header line elsewhere. The row count."""
        count = 0
        if not self.tty:
            sys.stdout.write("\t".join(c.lower() for c in columns) + "\n")
            for row in rows:
                sys.stdout.write("\t".join(_plain(v) for v in row) + "\n")
                count += 1
            sys.stdout.flush()
            return count
        table = Table(title=title, box=None, header_style="bold", pad_edge=False, padding=(0, 1, 0, 0))
        for name in columns:
            table.add_column(name, no_wrap=name in ("ID", "STATE", "SIZE", "PROGRESS"),
                             overflow="ellipsis", max_width=48 if name in ("NAME", "URL", "MESSAGE") else None)
        for row in rows:
            table.add_row(*[v if isinstance(v, Text) else Text(_plain(v)) for v in row])
            count += 1
        self.console.print(table)
        return count

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """``key: value`` lines (a detail view)."""
        width = max((len(k) for k, _ in pairs), default=0)
        for key, value in pairs:
            if value is None or value == "" or value == []:
                continue
            label = f"{key}:".ljust(width + 1)
            if self.tty:
                self.console.print(
                    Text(label, style="bold") + Text(" ") + (value if isinstance(value, Text) else Text(_plain(value)))
                )
            else:
                sys.stdout.write(f"{label} {_plain(value)}\n")
        sys.stdout.flush()


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, Text):
        return value.plain
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def state_text(state: str | None) -> Text:
    return Text(state or "-", style=STATE_STYLES.get(state or "", ""))


def task_row(task: dict[str, Any]) -> list[Any]:
    """ID, NAME, STATE, PROGRESS, SIZE, SPEED, ETA, ADDED."""
    state = task.get("state")
    active = state == "downloading"
    return [
        task.get("id"), task.get("filename") or task.get("url"), state_text(state),
        f"{float(task.get('progress') or 0):.1f}%", format_size(task.get("total_bytes")),
        format_speed(task.get("speed")) if active else "-", format_duration(task.get("eta")) if active else "-",
        format_age(task.get("created_at")),
    ]


TASK_COLUMNS = ("ID", "NAME", "STATE", "PROGRESS", "SIZE", "SPEED", "ETA", "ADDED")


def task_fields(task: dict[str, Any]) -> list[tuple[str, Any]]:
    size = task.get("total_bytes")
    done = task.get("downloaded_bytes") or 0
    return [
        ("id", task.get("id")),
        ("name", task.get("filename")),
        ("url", task.get("url")),
        ("state", state_text(task.get("state"))),
        ("phase", task.get("phase")),
        ("progress", f"{progress_bar_text(task.get('progress'))}  {format_size(done)} of {format_size(size)}"),
        ("speed", format_speed(task.get("speed")) if task.get("state") == "downloading" else None),
        ("eta", format_duration(task.get("eta")) if task.get("state") == "downloading" else None),
        ("parts", f"{task.get('parts_done') or 0}/{task.get('parts_total')}" if task.get("parts_total") else None),
        ("priority", task.get("priority")),
        ("speed limit", format_speed(task.get("speed_limit")) if task.get("speed_limit") else None),
        ("checksum", task.get("checksum")),
        ("batch", task.get("batch_name") or task.get("batch_id")),
        ("category", task.get("category")),
        ("tags", task.get("tags")),
        ("headers", task.get("header_names")),
        ("content type", task.get("content_type")),
        ("stored as", task.get("key")),
        ("error", Text(str(task["error"]), style="red") if task.get("error") else None),
        ("note", task.get("note")),
        ("restarts", task.get("restarts") or None),
        ("created", task.get("created_at")),
        ("started", task.get("started_at")),
        ("finished", task.get("finished_at")),
    ]
