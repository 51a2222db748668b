"""Global secondary indexes: every hot-path list is a Query on one of these, never a Scan."""

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


# -- accounts --------------------------------------------------------------------------------


class UserIdIndex(GlobalSecondaryIndex["UserModel"]):  # type: ignore[name-defined]
    """A user by id (tokens and API paths name users by id; the table is keyed by username)."""

    class Meta:
        index_name = "by-id"
        projection = KeysOnlyProjection()

    id = UnicodeAttribute(hash_key=True)


class UserListIndex(GlobalSecondaryIndex["UserModel"]):  # type: ignore[name-defined]
    """Every user, oldest first (one partition: a deployment has few users)."""

    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ApiKeyUserIndex(GlobalSecondaryIndex["ApiKeyModel"]):  # type: ignore[name-defined]
    """One user's API keys, oldest first."""

    class Meta:
        index_name = "by-user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)
