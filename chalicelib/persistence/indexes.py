"""Global secondary indexes: every hot-path list is a Query on one of these, never a Scan."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
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


class AllTasksIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """Every owner's tasks, newest first (an admin's list). Keys only: progress writes do not
    touch it, so its single partition is written once per task, not on every update; a page
    is one Query plus one BatchGetItem."""

    class Meta:
        index_name = "by-created"
        projection = KeysOnlyProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OwnerRankIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One owner's tasks in dispatch order (priority, then queue order): ``sort=queue``."""

    class Meta:
        index_name = "by-owner-rank"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    rank = UnicodeAttribute(range_key=True)


class OwnerQueueIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One owner's tasks of one state in dispatch order: ``<owner>#queued`` is that user's
    queue, best first (the fair dispatcher reads one user's head at a time). Keys only:
    progress writes never touch it."""

    class Meta:
        index_name = "by-owner-queue"
        projection = KeysOnlyProjection()

    owner_state = UnicodeAttribute(hash_key=True)
    rank = UnicodeAttribute(range_key=True)


class BatchTaskIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One batch's tasks, newest first (only tasks with a ``batch_id`` are in it)."""

    class Meta:
        index_name = "by-batch"
        projection = AllProjection()

    batch_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class DedupeIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """Tasks by ``<owner>#<sha256 of the normalised URL>``: duplicate detection is one Query."""

    class Meta:
        index_name = "by-url"
        projection = KeysOnlyProjection()

    dedupe = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class ExpiryIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """Finished tasks that expire (history retention), soonest first. Sparse: only tasks with
    ``sweep`` set are in it, so the sweep is a Query on a small index, never a Scan."""

    class Meta:
        index_name = "by-expiry"
        projection = KeysOnlyProjection()

    sweep = UnicodeAttribute(hash_key=True)
    expires = NumberAttribute(range_key=True)


class MetaIdIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One owner's tasks of one TMDB id (``<owner>#tmdb:<id>``), newest first: ``?tmdb_id=``.
    Sparse (tasks with a tmdb_id only) and keys only: progress writes never touch it
    (chalicelib/metadata/filters.py)."""

    class Meta:
        index_name = "by-meta-id"
        projection = KeysOnlyProjection()

    meta_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class MetaNameIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """One owner's tasks of one title (``<owner>#t:<title>``) or first artist
    (``<owner>#a:<artist>``), normalised, newest first: ``?title=`` and ``?artist=``. Sparse,
    keys only."""

    class Meta:
        index_name = "by-meta-name"
        projection = KeysOnlyProjection()

    meta_name = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class MetaIdAllIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """Every owner's tasks of one TMDB id (``tmdb:<id>``), newest first: an admin's ``?tmdb_id=``
    over everyone's downloads. Sparse, keys only."""

    class Meta:
        index_name = "by-meta-id-all"
        projection = KeysOnlyProjection()

    meta_id_all = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class MetaNameAllIndex(GlobalSecondaryIndex["TaskModel"]):  # type: ignore[name-defined]
    """Every owner's tasks of one title or first artist (``t:<title>``, ``a:<artist>``), newest
    first: an admin's ``?title=`` / ``?artist=`` over everyone's downloads. Sparse, keys only."""

    class Meta:
        index_name = "by-meta-name-all"
        projection = KeysOnlyProjection()

    meta_name_all = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class OwnerBatchIndex(GlobalSecondaryIndex["BatchModel"]):  # type: ignore[name-defined]
    """One owner's batches, newest first."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class TaskActivityIndex(GlobalSecondaryIndex["ActivityModel"]):  # type: ignore[name-defined]
    """One task's activity entries, oldest first."""

    class Meta:
        index_name = "by-task"
        projection = AllProjection()

    task_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class DayActivityIndex(GlobalSecondaryIndex["ActivityModel"]):  # type: ignore[name-defined]
    """Every owner's activity of one UTC day (``YYYY-MM-DD``), oldest first: the admin's view."""

    class Meta:
        index_name = "by-day"
        projection = AllProjection()

    day = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


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


# -- feeds (chalicelib/feeds/) -----------------------------------------------------------------


class OwnerFeedIndex(GlobalSecondaryIndex["FeedModel"]):  # type: ignore[name-defined]
    """One owner's feeds, oldest first."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class AllFeedsIndex(GlobalSecondaryIndex["FeedModel"]):  # type: ignore[name-defined]
    """Every owner's feeds, oldest first (an admin's list; one partition: feeds are few)."""

    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class DueFeedIndex(GlobalSecondaryIndex["FeedModel"]):  # type: ignore[name-defined]
    """Enabled feeds by when they are next due: the scheduler's tick is one Query of the feeds
    due now. Sparse: only enabled feeds carry ``sched``; keys only, the claim reads the item."""

    class Meta:
        index_name = "by-due"
        projection = KeysOnlyProjection()

    sched = UnicodeAttribute(hash_key=True)
    due_key = UnicodeAttribute(range_key=True)


class OwnerFeedItemIndex(GlobalSecondaryIndex["FeedItemModel"]):  # type: ignore[name-defined]
    """One owner's feed items over every feed, newest first: search."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    seen_key = UnicodeAttribute(range_key=True)


class AllFeedItemsIndex(GlobalSecondaryIndex["FeedItemModel"]):  # type: ignore[name-defined]
    """Every owner's feed items, newest first: an admin's search."""

    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    seen_key = UnicodeAttribute(range_key=True)


class PendingFeedItemIndex(GlobalSecondaryIndex["FeedItemModel"]):  # type: ignore[name-defined]
    """A feed's items not settled yet (seen but not yet judged, or matched but not yet
    enqueued): what a refresh that crashed half-way left, resumed by the next one. Sparse:
    ``pending`` (the feed's id) is removed once an item is settled."""

    class Meta:
        index_name = "by-pending"
        projection = KeysOnlyProjection()

    pending = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
