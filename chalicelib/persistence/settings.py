"""The engine settings' versions in the control table (chalicelib/settings/store.py ``SettingsVersions``).

``settings`` is the current version: the flat settings (``data``), ``version``, ``updated_at``,
``updated_by``; ``settings#v<N>`` is version N, with the changes that made it. A new version is
written in one transaction with the current item, on condition that ``settings#v<N+1>`` does
not exist yet and the current item is still version N, so two concurrent changes can never
both become version N+1. Version 0 (the defaults, or whatever was stored before versions
existed) is written together with version 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import DoesNotExist, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from ..settings.store import SettingsVersion, settings_from_data
from .models import ControlModel

SETTINGS_KEY = "settings"


class SettingsItem(Model):
    """The settings' items in the control table (``settings`` and ``settings#v<N>``)."""

    class Meta(ControlModel.Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    data = JSONAttribute(null=True)
    updated_at = NumberAttribute(null=True)
    version = NumberAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    changes = JSONAttribute(null=True)
    restored_from = NumberAttribute(null=True)


def _version_of(item: SettingsItem) -> SettingsVersion:
    return SettingsVersion(
        version=int(item.version or 0),
        settings=settings_from_data(item.data),
        updated_at=int(item.updated_at) if item.updated_at is not None else None,
        updated_by=item.updated_by,
        changes=dict(item.changes or {}),
        restored_from=int(item.restored_from) if item.restored_from is not None else None,
    )


class DynamoSettingsVersions:
    def __init__(self, key: str = SETTINGS_KEY) -> None:
        self.key = key

    def version_key(self, version: int) -> str:
        return f"{self.key}#v{version}"

    def current(self) -> SettingsVersion | None:
        """The current version, read now; None when nothing was ever stored."""
        try:
            return _version_of(SettingsItem.get(self.key, consistent_read=True))
        except DoesNotExist:
            return None

    def stored(self, number: int) -> SettingsVersion | None:
        """Version ``number`` as its history item has it (None: no such item)."""
        try:
            return _version_of(SettingsItem.get(self.version_key(number), consistent_read=True))
        except DoesNotExist:
            return None

    def stored_many(self, numbers: Iterable[int]) -> list[SettingsVersion]:
        """The history items of those versions that have one, in no particular order (one
        BatchGetItem per 100)."""
        keys = [self.version_key(n) for n in numbers]
        return [_version_of(item) for item in SettingsItem.batch_get(keys, consistent_read=True)] if keys else []

    def add_next(self, now: SettingsVersion, made: SettingsVersion) -> bool:
        """Write ``made`` as the version after ``now`` (with ``now`` as version 0 when it is the
        first change), if nobody else did first; False when another change won the race."""
        current = SettingsItem(
            self.key,
            data=asdict(made.settings),
            updated_at=made.updated_at,
            version=made.version,
            updated_by=made.updated_by,
        )
        history = SettingsItem(
            self.version_key(made.version),
            data=asdict(made.settings),
            updated_at=made.updated_at,
            version=made.version,
            updated_by=made.updated_by,
            changes=made.changes,
            restored_from=made.restored_from,
        )
        if now.version == 0:
            still = (
                SettingsItem.pk.does_not_exist() | SettingsItem.version.does_not_exist() | (SettingsItem.version == 0)
            )
        else:
            still = SettingsItem.version == now.version
        try:
            with TransactWrite(connection=Connection(region=SettingsItem.Meta.region)) as tx:
                if now.version == 0:
                    zero = SettingsItem(
                        self.version_key(0),
                        data=asdict(now.settings),
                        updated_at=now.updated_at,
                        version=0,
                        updated_by=now.updated_by,
                        changes={},
                    )
                    tx.save(zero, condition=SettingsItem.pk.does_not_exist())
                tx.save(history, condition=SettingsItem.pk.does_not_exist())
                tx.save(current, condition=still)
        except TransactWriteError as exc:
            # Another change won the race (its condition, or DynamoDB's conflict between two
            # transactions on the same items): the caller merges onto its version and tries again.
            codes = {r.code for r in (exc.cancellation_reasons or []) if r is not None}
            if exc.cause_response_code == "TransactionCanceledException" and codes <= {
                "ConditionalCheckFailed",
                "TransactionConflict",
                "None",
            }:
                return False
            raise
        return True
