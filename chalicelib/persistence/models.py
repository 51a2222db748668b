"""PynamoDB models: the DynamoDB tables, and the one source of their schema.

The CloudFormation template (infra/resources.py) and the local bootstrap both derive the
tables from these classes, so a new attribute or index is declared once, here.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from ..config import Config
from .attributes import PlainMapAttribute
from .indexes import (
    AllFeedItemsIndex,
    AllFeedsIndex,
    AllTasksIndex,
    ApiKeyUserIndex,
    BatchTaskIndex,
    DayActivityIndex,
    DedupeIndex,
    DueFeedIndex,
    ExpiryIndex,
    MetaIdAllIndex,
    MetaIdIndex,
    MetaNameAllIndex,
    MetaNameIndex,
    OwnerBatchIndex,
    OwnerFeedIndex,
    OwnerFeedItemIndex,
    OwnerIndex,
    OwnerQueueIndex,
    OwnerRankIndex,
    OwnerStateIndex,
    PendingFeedItemIndex,
    StateIndex,
    TaskActivityIndex,
    UserIdIndex,
    UserListIndex,
)

CONFIG = Config.from_env()


class _Meta:
    region = CONFIG.region
    billing_mode = "PAY_PER_REQUEST"
    connect_timeout_seconds = 5
    read_timeout_seconds = 20
    max_retry_attempts = 5
    max_pool_connections = 32


class TaskModel(Model):
    class Meta(_Meta):
        table_name = CONFIG.tasks_table
        # Change fan-out (WebSocket pushes) reads this stream.
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    url = UnicodeAttribute()
    filename = UnicodeAttribute()
    key = UnicodeAttribute()
    state = UnicodeAttribute()
    owner_state = UnicodeAttribute()
    rank = UnicodeAttribute()
    created_key = UnicodeAttribute()
    priority = NumberAttribute(default=0)
    order = NumberAttribute(default=0)
    headers = PlainMapAttribute(default=dict)
    checksum = UnicodeAttribute(null=True)
    batch_id = UnicodeAttribute(null=True)
    batch_name = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    filename_locked = BooleanAttribute(default=False)
    size = NumberAttribute(null=True)
    content_type = UnicodeAttribute(null=True)
    validator = UnicodeAttribute(null=True)
    resumable = BooleanAttribute(default=True)
    part_size = NumberAttribute(null=True)
    part_count = NumberAttribute(null=True)
    upload_id = UnicodeAttribute(null=True)
    gen = NumberAttribute(default=0)
    run = NumberAttribute(default=0)
    restarts = NumberAttribute(default=0)
    parts_done = NumberAttribute(default=0)
    bytes_done = NumberAttribute(default=0)
    lane_bytes = PlainMapAttribute(default=dict)
    lane_speed = PlainMapAttribute(default=dict)
    # lane -> step and lane -> token of the lane's newest work message: they fence off
    # duplicate deliveries (see chalicelib/transfer/lanes.py).
    lane_steps = PlainMapAttribute(default=dict)
    lane_tokens = PlainMapAttribute(default=dict)
    finalizing = UnicodeAttribute(null=True)
    phase = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    started_at = NumberAttribute(null=True)
    finished_at = NumberAttribute(null=True)
    updated_at = NumberAttribute()
    # Until when the task is known to be alive (progress, or a retry scheduled for later);
    # the reconciler re-dispatches a downloading task whose heartbeat is long past.
    heartbeat = NumberAttribute(default=0)
    # -- the control surface (issue #5) --
    # The origin's host name (lower case): per-host connection limits and statistics.
    host = UnicodeAttribute(null=True)
    # Bytes per second for this download; absent: the settings' default; 0: no limit.
    speed_limit = NumberAttribute(null=True)
    # Since when (epoch ms) the download has been slower than min_speed (the fair dispatcher
    # sends it back to the queue after min_speed_seconds).
    slow_since = NumberAttribute(null=True)
    # Who made the latest change (a username, or "engine"): the activity log's actor for
    # transitions it reads from the table's stream.
    actor = UnicodeAttribute(null=True)
    # Lower-case "filename url": text search is a filter on the owner's index, not a Scan.
    search = UnicodeAttribute(null=True)
    # "<owner>#<sha256 of the normalised URL>": duplicate detection (by-url index).
    dedupe = UnicodeAttribute(null=True)
    # History retention: a finished task is deleted after ``expires`` (epoch seconds, the
    # table's TTL attribute); ``sweep`` puts it in the sparse by-expiry index meanwhile.
    expires = TTLAttribute(null=True)
    sweep = UnicodeAttribute(null=True)
    # Every task has kind "task": the by-created index lists all owners' tasks newest first.
    kind = UnicodeAttribute(default="task")
    # -- metadata and naming (issue #18, chalicelib/metadata/) --
    metadata = JSONAttribute(null=True)
    path = UnicodeAttribute(null=True)
    naming = UnicodeAttribute(null=True)
    replace = BooleanAttribute(default=False)
    target = UnicodeAttribute(null=True)  # where the object moves once stored (a rename mid-transfer)
    # The sparse by-meta-id / by-meta-name indexes' keys (chalicelib/metadata/filters.py).
    meta_id = UnicodeAttribute(null=True)
    meta_name = UnicodeAttribute(null=True)
    meta_id_all = UnicodeAttribute(null=True)  # the same without the owner (by-meta-*-all)
    meta_name_all = UnicodeAttribute(null=True)

    by_state = StateIndex()
    by_owner = OwnerIndex()
    by_owner_state = OwnerStateIndex()
    by_owner_rank = OwnerRankIndex()
    by_owner_queue = OwnerQueueIndex()
    by_batch = BatchTaskIndex()
    by_url = DedupeIndex()
    by_expiry = ExpiryIndex()
    by_created = AllTasksIndex()
    by_meta_id = MetaIdIndex()
    by_meta_name = MetaNameIndex()
    by_meta_id_all = MetaIdAllIndex()
    by_meta_name_all = MetaNameAllIndex()


class PartModel(Model):
    """One uploaded part of one generation of a task's source."""

    class Meta(_Meta):
        table_name = CONFIG.parts_table

    task_id = UnicodeAttribute(hash_key=True)
    slot = UnicodeAttribute(range_key=True)  # "<gen:06d>:<number:05d>"
    number = NumberAttribute()
    gen = NumberAttribute()
    etag = UnicodeAttribute()
    size = NumberAttribute()
    checksum_crc32 = UnicodeAttribute(null=True)
    recorded_at = NumberAttribute()

    @staticmethod
    def slot_for(gen: int, number: int) -> str:
        return f"{gen:06d}:{number:05d}"


class ControlModel(Model):
    """Small singleton items: engine settings and the dispatcher's lease."""

    class Meta(_Meta):
        table_name = CONFIG.control_table

    pk = UnicodeAttribute(hash_key=True)
    data = JSONAttribute(null=True)
    holder = UnicodeAttribute(null=True)
    expires = NumberAttribute(null=True)
    dirty = BooleanAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    members = UnicodeSetAttribute(null=True)  # the enabled admins (chalicelib/auth/admins.py)


class ConnectionModel(Model):
    """WebSocket connections and their room subscriptions (chalicelib/realtime/connections.py).

    Three kinds of item: a connection (``conn#<id>`` / ``meta``) with the identity it connected
    with and the rooms it joined; one subscription per room (``subs#<owner>`` /
    ``<room>#<id>``), so the fan-out finds every subscriber of an owner's rooms with one Query
    instead of a scan; and one per authenticated connection under its user (``user#<owner>`` /
    ``<id>``), so the connections of a session that ends are found and closed. All expire
    (``expires``, the table's TTL attribute) after API Gateway's two-hour limit on a
    connection; readers ignore expired items before DynamoDB deletes them.
    """

    class Meta(_Meta):
        table_name = CONFIG.connections_table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    connection_id = UnicodeAttribute()
    owner = UnicodeAttribute()
    rooms = UnicodeSetAttribute(null=True)
    identity = JSONAttribute(null=True)
    connected_at = NumberAttribute(null=True)
    expires = TTLAttribute(null=True)


# -- the control surface: batches, statistics, activity log ------------------------------


class BatchModel(Model):
    """A batch: many downloads added together. Its summary counters are maintained from the
    tasks table's stream (chalicelib/stats/store.py), never summed on read: each is a top-level
    number attribute the stats writer ADDs to (``s_<state>`` tasks per state, ``items``,
    ``sized``, ``total_bytes``, ``done_bytes``), so one ADD creates a missing counter."""

    class Meta(_Meta):
        table_name = CONFIG.batches_table

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    name = UnicodeAttribute(null=True)
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute(null=True)
    items = NumberAttribute(default=0)
    total_bytes = NumberAttribute(default=0)
    done_bytes = NumberAttribute(default=0)

    by_owner = OwnerBatchIndex()


class StatsModel(Model):
    """Counters maintained as tasks change (chalicelib/stats/store.py): statistics never scan.

    ``scope`` is ``all`` or ``u#<owner>``; ``key`` names the counter set (``gauge`` for the
    tasks per state now, ``day#YYYY-MM-DD`` / ``hour#YYYY-MM-DDTHH`` for the timeline,
    ``host#<host>``, ``batch#<id>``, ``category#<name>``, ``tag#<name>`` for breakdowns).
    Each counter is a top-level number attribute ``n_<counter>`` (added, completed, failed,
    bytes, ...) that the stats writer ADDs to; the model declares only the keys.
    """

    class Meta(_Meta):
        table_name = CONFIG.stats_table

    scope = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    updated_at = NumberAttribute(null=True)
    expires = TTLAttribute(null=True)


class ActivityModel(Model):
    """One activity log entry: a state transition or a user action (chalicelib/activity/log.py).

    ``pk`` is ``u#<owner>`` (whose download or setting it concerns; ``system`` for the
    engine's own), ``sk`` ``<ms:013d>#<random>``; entries expire after the retention setting.
    """

    class Meta(_Meta):
        table_name = CONFIG.activity_table

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    at = NumberAttribute()
    day = UnicodeAttribute()
    level = UnicodeAttribute()
    kind = UnicodeAttribute()
    actor = UnicodeAttribute()
    message = UnicodeAttribute()
    task_id = UnicodeAttribute(null=True)
    batch_id = UnicodeAttribute(null=True)
    data = JSONAttribute(null=True)
    expires = TTLAttribute(null=True)

    by_task = TaskActivityIndex()
    by_day = DayActivityIndex()


# -- accounts (chalicelib/auth/, docs/security.md) ------------------------------------------


class UserModel(Model):
    """A user: one item per (lower-case) username, found by id through ``by_id``."""

    class Meta(_Meta):
        table_name = CONFIG.users_table

    username = UnicodeAttribute(hash_key=True)
    id = UnicodeAttribute()
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    disabled = BooleanAttribute(default=False)
    # Every user shares this partition of ``by_created``: listing users is a Query, not a Scan.
    kind = UnicodeAttribute(default="user")
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    last_login = NumberAttribute(null=True)
    # Sessions that began before this (ms) are over: set when the password changes or the
    # user is disabled.
    valid_after = NumberAttribute(default=0)

    by_id = UserIdIndex()
    by_created = UserListIndex()


class SessionModel(Model):
    """A login session: the family of refresh tokens one login started.

    Only the SHA-256 of the refresh token that is valid now is kept (``current``), with the
    hashes of the ones it replaced (``used``): presenting one of those again is a replay, and
    revokes the session. Access tokens name their session, so a revoked session ends them too.
    """

    class Meta(_Meta):
        table_name = CONFIG.sessions_table

    id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    username = UnicodeAttribute()
    current = UnicodeAttribute()
    used = UnicodeSetAttribute(null=True)
    revoked = BooleanAttribute(default=False)
    revoked_reason = UnicodeAttribute(null=True)
    created_at = NumberAttribute()
    rotated_at = NumberAttribute(null=True)
    expires = TTLAttribute()


class ApiKeyModel(Model):
    """A personal API key: its id, its owner and the SHA-256 of its secret, never the secret."""

    class Meta(_Meta):
        table_name = CONFIG.api_keys_table

    id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    username = UnicodeAttribute()
    name = UnicodeAttribute()
    secret_hash = UnicodeAttribute()
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    last_used_at = NumberAttribute(null=True)
    expires = TTLAttribute(null=True)

    by_user = ApiKeyUserIndex()


class RateLimitModel(Model):
    """Counters of fixed windows (requests per user, failed logins) and login locks; all expire."""

    class Meta(_Meta):
        table_name = CONFIG.rate_limits_table

    key = UnicodeAttribute(hash_key=True)
    hits = NumberAttribute(default=0)
    expires = TTLAttribute()


# -- scheduled jobs and notifications (issue #17: chalicelib/jobs/, chalicelib/notify/) -----
# Read and written only by chalicelib/jobs/persistence.py and chalicelib/notify/persistence.py.


class _ByOwner(GlobalSecondaryIndex["Model"]):
    """One owner's items, newest first."""

    class Meta:
        index_name = "by-owner"
        projection = AllProjection()

    owner = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class _ByKind(GlobalSecondaryIndex["Model"]):
    """Every owner's items, newest first (an admin's list): one partition per kind."""

    class Meta:
        index_name = "by-created"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class JobDueIndex(GlobalSecondaryIndex["JobModel"]):
    """Enabled jobs by their next slot: the tick reads the due ones with one Query (sparse:
    ``due`` is set only while the job is enabled)."""

    class Meta:
        index_name = "by-due"
        projection = AllProjection()

    due = UnicodeAttribute(hash_key=True)
    next_run = NumberAttribute(range_key=True)


class JobModel(Model):
    """A scheduled job: its schedule, action and next slot (chalicelib/jobs/)."""

    class Meta(_Meta):
        table_name = CONFIG.jobs_table

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    owner_name = UnicodeAttribute()
    name = UnicodeAttribute()
    cron = UnicodeAttribute(null=True)
    interval_seconds = NumberAttribute(null=True)
    timezone = UnicodeAttribute(default="UTC")
    anchor_ms = NumberAttribute(default=0)
    action = UnicodeAttribute()
    params = JSONAttribute(null=True)
    misfire = UnicodeAttribute(default="run_once")
    enabled = BooleanAttribute(default=True)
    # The slot the tick claims next (epoch ms); ``due`` = "job" while enabled (the by-due index).
    next_run = NumberAttribute(null=True)
    due = UnicodeAttribute(null=True)
    # What the action keeps between runs (e.g. add_urls: each URL's last validator).
    memory = JSONAttribute(null=True)
    last_run_at = NumberAttribute(null=True)
    last_status = UnicodeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(default="job")
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()

    by_due = JobDueIndex()
    by_owner = _ByOwner()
    by_created = _ByKind()


class JobRunModel(Model):
    """One run of a job: queued, started, ended, its outcome and a short result or error.

    ``sk`` is ``<ms:013d>#<slot or manual id>`` (queue time first: history reads newest
    first); a scheduled slot's run has a key made from the slot alone, so it is created once.
    """

    class Meta(_Meta):
        table_name = CONFIG.job_runs_table

    job_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    id = UnicodeAttribute()
    owner = UnicodeAttribute()
    job_name = UnicodeAttribute()
    action = UnicodeAttribute()
    trigger = UnicodeAttribute()  # schedule | manual | misfire
    slot = NumberAttribute(null=True)
    status = UnicodeAttribute()  # queued | running | success | failure | skipped
    queued_at = NumberAttribute()
    started_at = NumberAttribute(null=True)
    ended_at = NumberAttribute(null=True)
    result = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(default="run")
    created_key = UnicodeAttribute()  # = sk, for the owner and admin indexes
    expires = TTLAttribute(null=True)

    by_owner = _ByOwner()
    by_created = _ByKind()


class NotifyTargetModel(Model):
    """Where a user's notifications go: a webhook or an Apprise URL (chalicelib/notify/).

    ``sealed`` holds the secret parts (URL, webhook secret, headers) encrypted; ``display``
    is the URL with credentials masked, what GET shows."""

    class Meta(_Meta):
        table_name = CONFIG.notify_targets_table

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    name = UnicodeAttribute()
    target_kind = UnicodeAttribute()  # webhook | apprise
    display = UnicodeAttribute()
    sealed = UnicodeAttribute()
    has_secret = BooleanAttribute(default=False)
    header_names = ListAttribute(of=UnicodeAttribute, default=list)
    events = UnicodeSetAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    kind = UnicodeAttribute(default="target")
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()

    by_owner = _ByOwner()


class NotifyDeliveryModel(Model):
    """One message to one target: its event, status, attempts and last error."""

    class Meta(_Meta):
        table_name = CONFIG.notify_deliveries_table

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    target_id = UnicodeAttribute()
    target_name = UnicodeAttribute(null=True)
    event = UnicodeAttribute()
    title = UnicodeAttribute()
    status = UnicodeAttribute()  # pending | retrying | delivered | failed
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    response = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(default="delivery")
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    delivered_at = NumberAttribute(null=True)
    expires = TTLAttribute(null=True)

    by_owner = _ByOwner()
    by_created = _ByKind()


# -- feeds (chalicelib/feeds/, docs/feeds.md) ---------------------------------------------------


class FeedModel(Model):
    """A feed subscription: where it is, its rules, what its items become, and its schedule.

    ``sched``/``due_key`` put an enabled feed in the by-due index (``due_key`` is
    ``<next_refresh_at:013d>#<id>``); a refresh claims the feed by moving ``next_refresh_at``
    with a conditional write, so one feed is refreshed by one worker at a time."""

    class Meta(_Meta):
        table_name = CONFIG.feeds_table

    id = UnicodeAttribute(hash_key=True)
    owner = UnicodeAttribute()
    owner_name = UnicodeAttribute()
    kind = UnicodeAttribute(default="feed")
    url = UnicodeAttribute()
    name = UnicodeAttribute()
    title = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    interval_minutes = NumberAttribute()
    rules = JSONAttribute(null=True)
    options = JSONAttribute(null=True)
    created_key = UnicodeAttribute()
    created_at = NumberAttribute()
    updated_at = NumberAttribute()
    # Conditional GET validators of the last body fully taken in.
    etag = UnicodeAttribute(null=True)
    last_modified = UnicodeAttribute(null=True)
    last_refresh_at = NumberAttribute(null=True)
    last_ok_at = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    failures = NumberAttribute(default=0)
    next_refresh_at = NumberAttribute()
    sched = UnicodeAttribute(null=True)
    due_key = UnicodeAttribute(null=True)
    # The refresh that holds the feed now, and until when (a crashed one's claim runs out).
    claim = UnicodeAttribute(null=True)
    claimed_until = NumberAttribute(null=True)
    # The newest (season, episode) enqueued: "only new episodes".
    last_season = NumberAttribute(null=True)
    last_episode = NumberAttribute(null=True)
    items_seen = NumberAttribute(default=0)
    items_enqueued = NumberAttribute(default=0)
    # The batch every item joins when the feed names one (made on the first enqueue).
    batch_id = UnicodeAttribute(null=True)

    by_owner = OwnerFeedIndex()
    by_created = AllFeedsIndex()
    by_due = DueFeedIndex()


class FeedItemModel(Model):
    """One item seen in one feed; ``key`` is a digest of its GUID (else its link)."""

    class Meta(_Meta):
        table_name = CONFIG.feed_items_table

    feed_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    owner = UnicodeAttribute()
    kind = UnicodeAttribute(default="item")
    guid = UnicodeAttribute()
    title = UnicodeAttribute()
    link = UnicodeAttribute(null=True)
    url = UnicodeAttribute(null=True)  # what a download of it fetches (enclosure, else link)
    size = NumberAttribute(null=True)
    published_at = NumberAttribute(null=True)
    meta = JSONAttribute(null=True)
    state = UnicodeAttribute()
    rule = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    download_id = UnicodeAttribute(null=True)
    seen_at = NumberAttribute()
    seen_key = UnicodeAttribute()
    updated_at = NumberAttribute()
    search = UnicodeAttribute(null=True)
    pending = UnicodeAttribute(null=True)
    claim = UnicodeAttribute(null=True)
    claimed_until = NumberAttribute(null=True)

    by_owner = OwnerFeedItemIndex()
    by_created = AllFeedItemsIndex()
    by_pending = PendingFeedItemIndex()
