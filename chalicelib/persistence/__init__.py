"""The DynamoDB table layer: PynamoDB models of every table and index, custom attributes, page
cursors, and the task repository.

What lives here: ``models.py`` (the tables, one ``Model`` per item kind, and the ones the
template and the local bootstrap create), ``indexes.py`` (their global secondary indexes),
``attributes.py`` (custom PynamoDB attributes), ``cursors.py`` (opaque page cursors over
``LastEvaluatedKey``), ``repository.py`` (the task repository the services call).
The DynamoDB implementations of the services' ports live here too (``tasks.py``, ``batches.py``,
``lease.py``; the engine's ``queue.py``, ``hostslots.py``, ``waiting.py``; ``settings.py``,
``activity.py``, ``stats.py``; the downloads list's ``listing.py`` and ``admission.py``; the
real-time side's ``connections.py``, ``rooms.py``, ``throttle.py``; the accounts'
``users.py`` (with the admin roster), ``sessions.py``, ``apikeys.py``, ``signingkey.py``,
``ratelimits.py``); ``conditions.py`` is the one "conditional check failed" helper, ``warm.py``
makes every table's client up front.
May import: ``chalicelib.config``, ``chalicelib.domain``, and the port and value types of what it
stores (``transfer.ports``, the adapters' ``UploadedPart``, ``engine.queuecontrol``,
``engine.hostslots``, ``engine.retention``, ``settings.store``, ``activity.log``,
``downloads.listing``, ``downloads.admission.plan``, ``metadata.filters``, ``stats.store``,
``realtime.ports``, ``auth.ports``, ``auth.admins``; ``adapters.aws`` for its client tweaks); never a service, a
handler or the container.
Nothing outside this package and the capabilities' ``persistence.py`` imports PynamoDB or a
model (tests/unit/test_layering.py).
"""
