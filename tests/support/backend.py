"""Which AWS endpoints the tests keep from the environment.

None, normally: every test talks to the emulators it starts. Under `make test-localstack`
(localstack/host.py sets HAUL_TEST_LOCALSTACK), S3 and SQS are LocalStack's: their
AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_SQS stay, for the tests and the runtimes they start.
"""

from __future__ import annotations

import os

SECOND_BACKEND = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS")


def endpoint_variable_kept(name: str) -> bool:
    return bool(os.environ.get("HAUL_TEST_LOCALSTACK")) and name in SECOND_BACKEND


def endpoint_for(service: str, default: str) -> str:
    """Where ``service``'s resources live: the second backend's endpoint when the environment
    keeps one for it (``make test-localstack``), else ``default`` (the emulator's)."""
    variable = f"AWS_ENDPOINT_URL_{service.upper()}"
    return os.environ[variable] if endpoint_variable_kept(variable) and os.environ.get(variable) else default
