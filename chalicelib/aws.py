"""AWS clients, created in one place.

Endpoints are never set here: botocore reads ``AWS_ENDPOINT_URL`` and
``AWS_ENDPOINT_URL_<SERVICE>`` itself, so the same code talks to the embedded emulator,
LocalStack or AWS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

from .config import Config


@dataclass(frozen=True)
class AwsClients:
    s3: Any
    sqs: Any


def make_clients(config: Config) -> AwsClients:
    session = boto3.session.Session(region_name=config.region)
    common = dict(
        retries={"mode": "standard", "max_attempts": 8},
        max_pool_connections=32,
        connect_timeout=5,
        read_timeout=60,
    )
    s3 = session.client(
        "s3",
        config=BotoConfig(s3={"addressing_style": "path"}, **common),  # type: ignore[arg-type]
    )
    sqs = session.client("sqs", config=BotoConfig(**common))  # type: ignore[arg-type]
    return AwsClients(s3=s3, sqs=sqs)
