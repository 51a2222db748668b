"""Running the real `haul` console script: as a plain subprocess, or in a pseudo-terminal as a
person would (so it draws its bars), and a TCP relay that can cut its WebSocket."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Sequence
from pathlib import Path

HAUL = Path(sys.executable).with_name("haul")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Cli:
    """The `haul` command with its own config directory and environment."""

    def __init__(self, config_dir: Path, env: dict[str, str] | None = None) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("HAUL_", "NO_COLOR", "FORCE_COLOR"))}
        self.env.update(HAUL_CONFIG_DIR=str(config_dir), COLUMNS="120", **(env or {}))

    def run(self, *args: str, stdin: str | None = None, timeout: float = 120.0,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(HAUL), *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                              env={**self.env, **(env or {})})

    def pty(self, *args: str, answers: Sequence[tuple[str, str]] = (), timeout: float = 120.0,
            cols: int = 120, rows: int = 40, env: dict[str, str] | None = None) -> tuple[int, str]:
        """Run in a pseudo-terminal; ``answers``: (text to wait for, what to type then), in order.
        The exit code and everything the terminal received."""
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        full = {**self.env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows), **(env or {})}
        proc = subprocess.Popen([str(HAUL), *args], stdin=slave, stdout=slave, stderr=slave, env=full,
                                start_new_session=True, close_fds=True)
        os.close(slave)
        received = b""
        pending = list(answers)
        deadline = time.monotonic() + timeout
        try:
            while True:
                if time.monotonic() > deadline:
                    os.killpg(proc.pid, signal.SIGKILL)
                    raise AssertionError(
                        f"haul {' '.join(args)} still running after {timeout} s:\n"
                        + strip_ansi(received.decode(errors="replace"))
                    )
                ready, _, _ = select.select([master], [], [], 0.2)
                if ready:
                    try:
                        chunk = os.read(master, 65536)
                    except OSError:  # EIO: the terminal's other end closed
                        chunk = b""
                    if not chunk:
                        break
                    received += chunk
                    while pending and pending[0][0] in strip_ansi(received.decode(errors="replace")):
                        os.write(master, pending.pop(0)[1].encode())
                elif proc.poll() is not None:
                    break
        finally:
            os.close(master)
        return proc.wait(10), received.decode(errors="replace")


def final_lines(screen: str) -> dict[str, str]:
    """The last line drawn for each text at its start (bars redraw a line many times)."""
    last: dict[str, str] = {}
    for line in re.split(r"[\r\n]+", strip_ansi(screen)):
        line = line.strip()
        if line:
            last[line.split()[0]] = line
    return last


class Relay:
    """A TCP relay on loopback to ``target_port``: ``cut()`` drops every connection and, for
    ``hold`` seconds, refuses new ones, as a network outage would."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.refuse_until = 0.0
        self.accepted = 0
        self._lock = threading.Lock()
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if time.monotonic() < self.refuse_until:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self.conns += [client, upstream]
                self.accepted += 1
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def release(self) -> None:
        """Accept connections again."""
        self.refuse_until = 0.0

    def cut(self, hold: float = 0.0) -> None:
        self.refuse_until = time.monotonic() + hold
        with self._lock:
            conns, self.conns = self.conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        self._stop = True
        self.cut()
        self.server.close()
