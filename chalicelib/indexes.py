"""Global secondary indexes of the tasks table: every hot-path list is a Query on one of these."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection


class StateIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """Tasks of one state in dispatch order (priority, then queue order)."""

    class Meta:
        index_name = "by-state"
        projection = KeysOnlyProjection()

    state = UnicodeAttribute(hash_key=True)
    rank = UnicodeAttribute(range_key=True)


class OwnerIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One owner's tasks, newest first."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OwnerStateIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One owner's tasks in one state, newest first."""

    class Meta:
        index_name = "by-owner-state"
        projection = AllProjection()

    owner_state = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)
