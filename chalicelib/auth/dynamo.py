"""DynamoDB failures of the accounts store, as the API reports them. (Whether a write was
refused by its condition is chalicelib/persistence/conditions.py's one helper.)"""

from __future__ import annotations

from ..api.errors import Unavailable


def unavailable(what: str) -> Unavailable:
    """The 503 a DynamoDB failure becomes: honest that ``what`` did not happen, and to try again."""
    return Unavailable(f"{what} did not happen: the accounts store is not answering; try again",
                       headers={"Retry-After": "2"})
