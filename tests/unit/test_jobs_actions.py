"""Job actions: parameters and who may schedule them (chalicelib/jobs/actions.py)."""

from __future__ import annotations

import pytest

from chalicelib.auth.identity import Identity, Role
from chalicelib.jobs.actions import ActionName, BadAction, may_manage, needs_admin, parse_action

ADMIN = Identity("a1", "root", Role.ADMIN)
ALICE = Identity("u1", "alice", Role.USER)
BOB = Identity("u2", "bob", Role.USER)


@pytest.mark.parametrize("action", ["queue_start", "queue_stop", "speed_limit", "queue_pause"])
def test_shared_things_need_an_admin(action: str) -> None:
    params = {"minutes": 5} if action == "queue_pause" else {"bytes_per_second": 0} if action == "speed_limit" else {}
    name, parsed = parse_action(action, params)
    assert needs_admin(name, parsed)
    assert may_manage(ADMIN, "u1", name, parsed)
    assert not may_manage(ALICE, "u1", name, parsed)


def test_own_downloads_actions_are_for_their_owner_and_admins() -> None:
    name, params = parse_action("retry_failed", {})
    assert not needs_admin(name, params)
    assert may_manage(ALICE, "u1", name, params) and may_manage(ADMIN, "u1", name, params)
    assert not may_manage(BOB, "u1", name, params)
    everyone = parse_action("retry_failed", {"all_users": True})
    assert needs_admin(*everyone) and not may_manage(ALICE, "u1", *everyone)


def test_parameters_are_validated_with_the_field_named() -> None:
    with pytest.raises(BadAction) as err:
        parse_action("queue_pause", {"minutes": 0})
    assert err.value.field == "params.minutes"
    with pytest.raises(BadAction) as err:
        parse_action("add_urls", {"urls": ["ftp://x"]})
    assert err.value.field == "params.urls" and "http" in str(err.value)
    with pytest.raises(BadAction) as err:
        parse_action("clear_history", {"older_than_days": 3, "states": ["queued"]})
    assert "finished states" in str(err.value)
    with pytest.raises(BadAction) as err:
        parse_action("reboot", {})
    assert err.value.field == "action"
    with pytest.raises(BadAction) as err:
        parse_action("queue_start", {"minutes": 1})
    assert err.value.field == "params.minutes" and "not a parameter" in str(err.value)


def test_defaults_are_filled_in() -> None:
    name, params = parse_action("add_urls", {"urls": ["https://example.com/a", "https://example.com/a"]})
    assert name == ActionName.ADD_URLS
    assert params["urls"] == ["https://example.com/a"] and params["only_if_changed"] is True
    assert parse_action("clear_history", {"older_than_days": 7})[1]["states"] == ["completed", "failed", "cancelled"]
