"""The local runtime's kept User-Agent strings (local_runtime/useragent.py) are botocore's own:
the same string for the same client and features, built once; another feature in the request's
context, or another client's settings, gets its own string."""

from __future__ import annotations

from botocore.config import Config
from botocore.context import start_as_current_context
from botocore.useragent import UserAgentString, register_feature_id

from local_runtime import useragent

ORIGINAL = getattr(UserAgentString.to_string, "__wrapped__", UserAgentString.to_string)


def test_the_kept_string_is_botocores_and_built_once_per_feature_set() -> None:
    built: list[int] = []

    def counting(self: UserAgentString) -> str:
        built.append(1)
        return ORIGINAL(self)

    kept = useragent._kept(counting)
    client = UserAgentString.from_environment().with_client_config(Config(retries={"mode": "standard"}))
    assert kept(client) == kept(client) == ORIGINAL(client)
    assert len(built) == 1
    plain = kept(client)
    with start_as_current_context():
        register_feature_id("PAGINATOR")
        with_feature = kept(client)
        assert with_feature == ORIGINAL(client) != plain
        assert kept(client) == with_feature
    assert len(built) == 2  # the context's feature set is another string, built once
    assert kept(client) == plain == ORIGINAL(client) and len(built) == 2
    other = client.with_client_config(Config(user_agent_extra="haul-test"))
    assert kept(other) == ORIGINAL(other) and "haul-test" in kept(other)
    assert "haul-test" not in kept(client)


def test_installed_for_its_botocore_only() -> None:
    import importlib.metadata

    installed = useragent.install()
    assert installed == (importlib.metadata.version("botocore") == useragent.PATCHED_FOR)
    client = UserAgentString.from_environment().with_client_config(Config())
    assert client.to_string() == ORIGINAL(client)
