"""Every table's DynamoDB client made up front (chalicelib/container.py ``warm``).

PynamoDB makes one botocore client per table on first use, each from a botocore session
of its own that loads the service model afresh, so a fresh worker started its first
download late; made here from one shared session they cost a fraction of that (figures:
docs/performance.md, "Measurements behind the code"). (PynamoDB keeps each client for every
thread; a thread asks for a session of its own only when there is no client yet.) Each client
also decodes item answers without botocore's walk (adapters/aws.py ``fast_item_parsing``).
"""

from __future__ import annotations

import botocore.session
from pynamodb.models import Model

from ..adapters.aws import fast_item_parsing
from . import models  # noqa: F401  (every table's model is defined before they are walked)


def warm_tables() -> None:
    shared = botocore.session.get_session()
    pending: list[type[Model]] = list(Model.__subclasses__())
    while pending:
        model = pending.pop()
        pending.extend(model.__subclasses__())
        meta = getattr(model, "Meta", None)
        if meta is None or not getattr(meta, "table_name", None):
            continue
        connection = model._get_connection().connection
        if connection._client is None:
            connection._local.session = shared
        fast_item_parsing(connection.client)
