"""Start and stop the whole local system in one process (plus its worker processes)."""

from __future__ import annotations

import functools
import importlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from chalice.local import ChaliceRequestHandler

from .emulator.datadir import DataDirError, resolve
from .errors import StartupError
from .http_methods import AnswersEveryMethod
from .realtime import LocalRealtime
from .sqs_poller import POLL_WAIT_SECONDS

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("haul.local")
access = logging.getLogger("haul.local.access")


class QuietRequestHandler(AnswersEveryMethod, ChaliceRequestHandler):
    """Chalice's local handler, with access lines at DEBUG instead of one per request on stderr."""

    # http.server writes a response's headers and its body in two sends: with Nagle's algorithm
    # the body waits for the client's delayed ACK of the headers on every request (docs/performance.md).
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        access.debug(format, *args)


# The REST server's listen backlog (http.server's default is 5: a burst of new connections,
# a browser's six plus the CLI's and scripts', was answered with resets). The kernel caps it
# at net.core.somaxconn.
API_BACKLOG = 1024


def ensure_free(host: str, port: int, what: str, variable: str) -> None:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            raise StartupError(
                f"{what} port {port} on {host} is in use: stop what uses it, or choose another with {variable}=..."
            ) from None


def data_dir_setting() -> Path | None:
    """HAUL_DATA_DIR (default ./.haul-data), absolute; None for "none" (keep nothing)."""
    value = os.environ.get("HAUL_DATA_DIR", "").strip()
    if value.lower() in {"none", "off", "memory"}:
        return None
    return resolve(value or None)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def prepare_environment() -> bool:
    """Fill in what botocore needs for a local backend; True if the emulator must run."""
    os.environ.setdefault("HAUL_STAGE", "local")
    if os.environ["HAUL_STAGE"] == "local":
        # The one place private origins are allowed by default: `make run` fetches from this
        # machine and its network. Elsewhere an unset variable means refused (chalicelib/config.py).
        os.environ.setdefault("HAUL_ALLOW_PRIVATE_NETWORKS", "true")
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    # An add asks for a dispatcher round with a work message, as the deployed stages do
    # (.chalice/config.json): the request answers without waiting for the round. A worker whose
    # download finished starts the next one itself, as deployed too.
    os.environ.setdefault("HAUL_KICK_BY_MESSAGE", "true")
    os.environ.setdefault("HAUL_CHAIN_STARTS", "true")
    use_aws = os.environ.get("HAUL_USE_AWS", "").lower() in {"1", "true", "yes"}
    if os.environ.get("AWS_ENDPOINT_URL") or use_aws:
        return False
    # The emulator accepts any credentials; never let real ones near it by accident.
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    return True


class WorkerSupervisor:
    """Runs the worker processes and restarts any that dies, as Lambda replaces a sandbox."""

    def __init__(self, processes: int, threads: int, visibility: int) -> None:
        self._count = processes
        self._threads = threads
        self._visibility = visibility
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self.restarts = 0

    def _spawn(self, index: int) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, "-m", "local_runtime.worker", "--threads", str(self._threads),
               "--visibility", str(self._visibility), "--parent", str(os.getpid())]
        if index == 0:
            cmd.append("--primary")
        # Its own process group: a Ctrl-C reaches the runtime, which stops workers in order.
        # stdout carries one line, "ready", once the worker polls; its logs go to stderr.
        return subprocess.Popen(
            cmd, cwd=ROOT, env=os.environ.copy(), start_new_session=True, stdout=subprocess.PIPE
        )

    def start(self, ready_timeout: float = 60.0) -> None:
        """Start the workers and return once every one of them is polling."""
        self._procs = [self._spawn(i) for i in range(self._count)]
        for i, proc in enumerate(self._procs):
            if not self._ready(proc, ready_timeout):
                raise StartupError(f"worker {i} (pid {proc.pid}) did not start polling; see the log above")
        self._monitor = threading.Thread(target=self._watch, daemon=True)
        self._monitor.start()

    @staticmethod
    def _ready(proc: subprocess.Popen[bytes], timeout: float) -> bool:
        assert proc.stdout is not None
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout)
        return bool(line) and line[0].strip() == b"ready"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            for i, proc in enumerate(self._procs):
                code = proc.poll()
                if code is not None and not self._stop.is_set():
                    log.warning("worker %d (pid %d) exited with %s; starting another", i, proc.pid, code)
                    self._procs[i] = self._spawn(i)
                    self.restarts += 1
                    print(f"worker {i} restarted (pid {self._procs[i].pid})", flush=True)

    def stop(self, grace: float = 10.0) -> None:
        self._stop.set()
        for proc in self._procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self._procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class LocalRuntime:
    def __init__(self) -> None:
        self.host = os.environ.get("HAUL_HOST", "127.0.0.1")
        self.aws_port = _env_int("HAUL_AWS_PORT", 5000)
        self.api_port = _env_int("HAUL_API_PORT", 8000)
        self.processes = _env_int("HAUL_WORKER_PROCESSES", 2)
        self.threads = _env_int("HAUL_WORKER_THREADS", 8)
        self.visibility = _env_int("HAUL_VISIBILITY_TIMEOUT", 30)
        every = os.environ.get("HAUL_SCHEDULE_SECONDS")
        self.schedule_every = float(every) if every else None
        self._moto: Any = None
        self.data_dir: Path | None = None
        self._api: Any = None
        self._api_thread: threading.Thread | None = None
        self._scheduler: Any = None
        self.workers: WorkerSupervisor | None = None
        self.app: ModuleType | None = None
        # Real-time triggers: the WebSocket gateway and the stream poller (local_runtime/realtime.py).
        self.realtime = LocalRealtime(self.host, _env_int("HAUL_WS_PORT", 8001))

    def start(self) -> None:
        started_ms = int(time.time() * 1000)
        embedded = prepare_environment()
        ensure_free(self.host, self.api_port, "the REST API", "HAUL_API_PORT")
        if embedded:
            ensure_free(self.host, self.aws_port, "the AWS emulator", "HAUL_AWS_PORT")
            from .emulator.server import start_emulator

            self.data_dir = data_dir_setting()
            try:
                self._moto = start_emulator(self.host, self.aws_port, self.data_dir)
            except DataDirError as exc:
                raise StartupError(str(exc)) from None
            if self.data_dir is not None:
                os.environ["HAUL_DATA_DIR_IN_USE"] = str(self.data_dir)
            os.environ["AWS_ENDPOINT_URL"] = f"http://{self.host}:{self.aws_port}"
        sys.path.insert(0, str(ROOT))
        # The URL guard keeps this runtime's own ports out of every download (chalicelib/config.py).
        os.environ.update(HAUL_API_PORT=str(self.api_port), HAUL_AWS_PORT=str(self.aws_port),
                          HAUL_WS_PORT=str(self.realtime.port))
        self.realtime.configure_environment()
        self.app = importlib.import_module("app")
        import boto3

        from . import useragent

        useragent.install()  # each client's User-Agent built once (local_runtime/useragent.py)

        from chalicelib.container import services, warm
        from infra.bootstrap import bootstrap

        config = self.app.CONFIG
        bootstrap(config, boto3.session.Session(region_name=config.region))
        accounts = self._accounts(warm())
        self._report_data_dir()
        self._warm_guesses()
        # Before the API: a healthy API means the gateway listens. The stream pollers run in
        # worker 0, apart from the emulator, as the fan-out function runs in its own sandbox.
        self.realtime.start(self.app, with_pollers=False)
        self.workers = WorkerSupervisor(self.processes, self.threads, self.visibility)
        self.workers.start()
        from .scheduler import Scheduler

        self._scheduler = Scheduler(self.app, self.schedule_every)
        self._scheduler.start()
        # Last: an API that answers means everything behind it is up.
        self._start_api()

        backend = (
            f"embedded moto server at {os.environ['AWS_ENDPOINT_URL']}" if embedded
            else f"{os.environ.get('AWS_ENDPOINT_URL') or 'AWS'} (no emulator started)"
        )
        lines = [
            f"Haul local runtime, stage {config.stage}",
            f"  AWS        {backend}",
            f"  tables     {config.tasks_table}, {config.parts_table}, {config.control_table}",
            f"  queues     {config.work_queue} (dead letters: {config.work_dlq})",
            f"  bucket     {config.bucket}",
            f"  REST API   http://{self.host}:{self.api_port}/api/v1",
            f"  workers    {self.processes} processes x {self.threads} threads "
            f"(pids {', '.join(map(str, self.workers.pids))}), visibility {self.visibility} s",
            "  schedules  " + ", ".join(f"{n} every {s:g} s" for n, s in self._scheduler.jobs),
            "  private    downloads from private addresses "
            + ("allowed" if config.allow_private_networks else "refused"),
            f"  accounts   {accounts}",
            f"  API docs   http://{self.host}:{self.api_port}/api/v1/docs",
        ]
        if embedded:
            lines.append(f"  data       {self.data_dir} (HAUL_DATA_DIR)" if self.data_dir is not None
                         else "  data       in memory only (HAUL_DATA_DIR=none): nothing is kept after a stop")
            lines += [f"             {line}" for line in getattr(self._moto, "report", [])]
        lines += self.realtime.summary()
        print("\n".join(lines) + "\nReady. Ctrl-C stops.", flush=True)
        threading.Thread(
            target=self._resume_interrupted, args=(services(), started_ms), daemon=True
        ).start()

    @staticmethod
    def _warm_guesses() -> None:
        """guessit's rules are built, and its patterns compiled, on first use: ~0.5 s of this
        process's GIL, which the first GET /downloads/{id} (the metadata it guesses from the
        file name) paid while the emulator, in the same process, was starting that download."""
        from chalicelib.metadata.guess import guess

        guess("Haul.Warm.Up.S01E01.1080p.WEB-DL.mkv")

    @staticmethod
    def _report_data_dir() -> None:
        """GET /health/detailed shows the embedded install's data directory and its size."""
        from chalicelib.health.service import add_probe

        from .emulator.datadir import usage

        if usage() is not None:
            add_probe("data_dir", lambda: {"status": "ok", **(usage() or {})})

    def _accounts(self, svc: Any) -> str:
        """The scripted first admin (HAUL_ADMIN_USER / HAUL_ADMIN_PASSWORD), or how to make one."""
        from chalicelib.api.errors import ValidationFailed

        api = f"http://{self.host}:{self.api_port}/api/v1"
        user = os.environ.get("HAUL_ADMIN_USER", "")
        # Read once, then out of the environment the worker processes inherit.
        password = os.environ.pop("HAUL_ADMIN_PASSWORD", "")
        if user or password:
            if not (user and password):
                raise StartupError("set both HAUL_ADMIN_USER and HAUL_ADMIN_PASSWORD, or neither")
            try:
                return str(svc.accounts.ensure_admin(user, password))
            except ValidationFailed as exc:
                raise StartupError(f"HAUL_ADMIN_USER / HAUL_ADMIN_PASSWORD: {exc.message}") from None
        if svc.accounts.setup_required():
            return (f"no users yet: create the first admin with POST {api}/auth/setup "
                    "(or start with HAUL_ADMIN_USER and HAUL_ADMIN_PASSWORD)")
        return f"{svc.accounts.count_users()} user(s); log in with POST {api}/auth/login"

    @staticmethod
    def _resume_interrupted(svc: Any, started_ms: int) -> None:
        """Downloads that were running when a runtime last stopped resume where they were.

        Deferred by one long-poll: a receive left open by a runtime that was killed keeps
        listening for up to POLL_WAIT_SECONDS and would swallow a message sent sooner
        (hiding it for a whole visibility timeout).
        """
        time.sleep(POLL_WAIT_SECONDS + 1)
        resumed = svc.reconciler.run(quiet_since_ms=started_ms)
        if resumed:
            print(f"resumed {resumed} download(s) that were running", flush=True)

    def _start_api(self) -> None:
        from chalice.config import Config as ChaliceConfig
        from chalice.local import create_local_server

        assert self.app is not None
        config = ChaliceConfig.create(chalice_stage="local", app_name="haul", lambda_timeout=30, lambda_memory_size=512)
        self._api = create_local_server(self.app.app, config, self.host, self.api_port)
        self._api.server.RequestHandlerClass = functools.partial(
            QuietRequestHandler, app_object=self.app.app, config=config
        )
        self._api.server.socket.listen(API_BACKLOG)  # (listen again: only the backlog changes)
        self._api_thread = threading.Thread(target=self._api.server.serve_forever, daemon=True)
        self._api_thread.start()

    def stop(self) -> None:
        self.realtime.stop()
        if self._scheduler is not None:
            self._scheduler.stop()
        if self.workers is not None:
            self.workers.stop()
        if self._api is not None:
            self._api.server.shutdown()
            self._api.server.server_close()
        if self._moto is not None:
            self._moto.stop()
        print("Haul stopped.", flush=True)


def main() -> None:
    from chalicelib.observability.logs import configure_logging

    configure_logging()
    runtime = LocalRuntime()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        runtime.start()
        stop.wait()
    except StartupError as exc:
        print(f"haul: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None
    finally:
        runtime.stop()
