"""tests/support/origin.py (the test suite's origin) as a process, for comparison with bench/origin.py.

    python -m bench.suite_origin --serve /1g=/tmp/x/1g --serve /slow=/tmp/x/512m@20971520
"""

from __future__ import annotations

import argparse
import signal
import threading

from tests.support.origin import Origin, Resource


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.suite_origin")
    parser.add_argument("--serve", action="append", default=[], metavar="PATH=FILE[@BPS]")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Origin() as origin:
        for spec in args.serve:
            path, _, rest = spec.partition("=")
            disk, _, bps = rest.partition("@")
            origin.add(path, Resource(path_on_disk=disk, throttle_bps=int(bps) if bps else None))
        print(f"PORT {origin.port}", flush=True)
        stop.wait()


if __name__ == "__main__":
    main()
