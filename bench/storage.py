"""``python -m bench.storage [--gib 4]``: what storing files costs the embedded emulator's memory.

Starts the emulator (local_runtime.emulator.server.start_emulator) in a process of its own, with a
data directory (objects and parts as files: local_runtime/emulator/files.py) or without one
(``--memory``: moto's own buffers), uploads ``--gib`` GiB as Haul does (multipart, 16 MiB
parts, CRC32, 8 at a time), in objects of ``--object-mib`` MiB, and reports the emulator's
resident memory before and after (VmRSS) and its peak (VmHWM).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from .emulator import _client
from .procs import MiB
from .runtime import ROOT, clean_env, free_port

_SERVE = """
import ctypes, gc, signal, sys, threading
from pathlib import Path
from local_runtime.emulator.server import start_emulator
def rss():
    return [l for l in open("/proc/self/status") if l.startswith("VmRSS")][0].split()[1]
def probe(*_):
    a = rss(); n = gc.collect(); b = rss(); t = ctypes.CDLL("libc.so.6").malloc_trim(0); c = rss()
    print("rss", a, "gc", n, "->", b, "trim ->", c, flush=True)
signal.signal(signal.SIGUSR1, probe)
data = sys.argv[2]
start_emulator("127.0.0.1", int(sys.argv[1]), Path(data) if data != "-" else None)
print("ready", flush=True)
threading.Event().wait()
"""


def _memory(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gib", type=float, default=4.0)
    parser.add_argument("--object-mib", type=int, default=1024)
    parser.add_argument("--memory", action="store_true", help="no data directory (moto's own buffers)")
    args = parser.parse_args(argv)

    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="haul-bench-storage-"))
    data = "-" if args.memory else str(workdir / "data")
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, str(port), data], cwd=ROOT, env=clean_env(),
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        s3: Any = _client("s3", f"http://127.0.0.1:{port}")
        s3.create_bucket(Bucket="storage-probe")
        before = _memory(proc.pid)
        body = os.urandom(16 * MiB)
        objects = max(1, int(args.gib * 1024) // args.object_mib)
        started = time.monotonic()
        for n in range(objects):
            key = f"object-{n}"
            upload = s3.create_multipart_upload(Bucket="storage-probe", Key=key, ChecksumAlgorithm="CRC32")["UploadId"]

            def one(number: int, key: str = key, upload: str = upload) -> dict[str, Any]:
                answer = s3.upload_part(Bucket="storage-probe", Key=key, UploadId=upload, PartNumber=number,
                                        Body=body, ChecksumAlgorithm="CRC32")
                return {"PartNumber": number, "ETag": answer["ETag"], "ChecksumCRC32": answer["ChecksumCRC32"]}

            with ThreadPoolExecutor(8) as pool:
                parts = list(pool.map(one, range(1, args.object_mib // 16 + 1)))
            s3.complete_multipart_upload(Bucket="storage-probe", Key=key, UploadId=upload,
                                         MultipartUpload={"Parts": parts})
        elapsed = time.monotonic() - started
        after = _memory(proc.pid)
        if os.environ.get("BENCH_STORAGE_PROBE"):
            proc.send_signal(10)
            print(proc.stdout.readline().decode().strip())
            print("after gc+trim", _memory(proc.pid)["VmRSS"] / MiB)
        stored = objects * args.object_mib * MiB
        print(f"{'memory only' if args.memory else 'data directory'}: stored {stored / 2**30:.2f} GiB "
              f"({objects} objects) in {elapsed:.1f} s")
        print(f"  emulator RSS {before['VmRSS'] / MiB:.0f} MiB before, {after['VmRSS'] / MiB:.0f} MiB after "
              f"(+{(after['VmRSS'] - before['VmRSS']) / MiB:.0f} MiB); peak {after['VmHWM'] / MiB:.0f} MiB")
        if not args.memory:
            used = sum(p.stat().st_size for p in (workdir / "data" / "s3" / "blobs").iterdir())
            print(f"  on disk: {used / 2**30:.2f} GiB in s3/blobs")
        return 0
    finally:
        proc.terminate()
        proc.wait(30)
        subprocess.run(["rm", "-rf", str(workdir)], check=False)


if __name__ == "__main__":
    raise SystemExit(main())
