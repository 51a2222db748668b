"""Test-wide environment: set before anything imports chalicelib (it reads it at import)."""

from __future__ import annotations

import os

from tests.support.backend import endpoint_variable_kept
from tests.support.ports import free_port

os.environ["HAUL_STAGE"] = "test"
os.environ["HAUL_ALLOW_PRIVATE_NETWORKS"] = "true"
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_SESSION_TOKEN", None)
for _name in list(os.environ):
    if _name.startswith("AWS_ENDPOINT_URL") and not endpoint_variable_kept(_name):
        del os.environ[_name]
os.environ["HAUL_TEST_AWS_PORT"] = str(free_port())
os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{os.environ['HAUL_TEST_AWS_PORT']}"
