"""bench/everyday.py reads the API's Server-Timing header (functions/rest/http.py writes it)."""

from __future__ import annotations

from bench.everyday import _p50_p95, server_ms
from functions.rest.http import server_timing


def test_the_bench_reads_what_the_api_writes() -> None:
    header = server_timing(10.0, 10.002, 10.0125)
    assert header == "auth;dur=2.0, handler;dur=10.5, total;dur=12.5"
    assert server_ms(header) == 12.5
    assert server_ms(header, "auth") == 2.0
    assert server_ms(None) is None
    assert server_ms("total;desc=x") is None


def test_p50_p95_in_ms() -> None:
    assert _p50_p95([]) == {}
    assert _p50_p95([i / 1000 for i in range(1, 101)]) == {"p50": 51.0, "p95": 95.0}
