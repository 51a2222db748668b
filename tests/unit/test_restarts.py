"""The restart budget and the stream's time limit (issue #11, item 3)."""

from __future__ import annotations

import pytest

from chalicelib.domain.restarts import Restart, decide_restart, stream_seconds, stream_verdict

MiB = 1 << 20


@pytest.mark.parametrize("kind", list(Restart))
def test_every_kind_of_restart_counts_against_one_budget(kind: Restart) -> None:
    assert decide_restart(kind, 0, 3, "why").allowed
    assert decide_restart(kind, 2, 3, "why") == decide_restart(kind, 2, 3, "why")
    assert decide_restart(kind, 2, 3, "why").message == "why"
    refused = decide_restart(kind, 3, 3, "the last reason")
    assert not refused.allowed
    assert "gave up after starting over 3 times" in refused.message and "last: the last reason" in refused.message
    assert not decide_restart(kind, 0, 0, "x").allowed  # a budget of 0: the first restart fails


def test_the_reasons_say_what_kept_happening() -> None:
    assert decide_restart(Restart.SOURCE_CHANGED, 1, 1, "etag").message.startswith(
        "the source kept changing during the download: gave up after starting over once")
    assert "every attempt starts from zero" in decide_restart(Restart.STREAM_INTERRUPTED, 5, 5, "cut").message


@pytest.mark.parametrize(("remaining", "allowed"), [(900, 840), (100, 90), (3, 2.7), (0, 0), (1000, 940)])
def test_a_stream_keeps_a_margin_of_its_invocation(remaining: float, allowed: float) -> None:
    assert stream_seconds(remaining) == pytest.approx(allowed)


def test_a_stream_goes_on_while_it_can_finish() -> None:
    assert stream_verdict(0.0, 840, 0, None) is None
    assert stream_verdict(100, 840, 50 * MiB, None) is None  # no size: only the clock ends it
    assert stream_verdict(100, 840, 50 * MiB, 300 * MiB) is None  # 600 s projected
    assert stream_verdict(100, 840, 10 * MiB, 100 * MiB) is None  # 1000 s projected, within 1.5x
    assert stream_verdict(10, 840, 1 * MiB, 10_000 * MiB) is None  # too early to judge


def test_a_stream_out_of_time_fails_with_a_reason() -> None:
    endless = stream_verdict(840, 840, 700 * MiB, None)
    assert endless is not None and "does not serve byte ranges" in endless
    assert "700.0 MiB arrived in the 840 s" in endless and "may never end" in endless
    sized = stream_verdict(841, 840, 700 * MiB, 800 * MiB)
    assert sized is not None and "700.0 MiB of 800.0 MiB" in sized


def test_a_stream_that_plainly_cannot_arrive_in_time_fails_early() -> None:
    early = stream_verdict(200, 840, 20 * MiB, 1024 * MiB)  # 102.4 KiB/s: 10,240 s
    assert early is not None and "would take about 10240 s" in early and "102.4 KiB/s" in early
