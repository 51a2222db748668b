"""The DynamoDB table layer: PynamoDB models of every table and index, custom attributes, page
cursors, and the task repository.

What lives here: ``models.py`` (the tables, one ``Model`` per item kind, and the ones the
template and the local bootstrap create), ``indexes.py`` (their global secondary indexes),
``attributes.py`` (custom PynamoDB attributes), ``cursors.py`` (opaque page cursors over
``LastEvaluatedKey``), ``repository.py`` (the task repository the services call).
The DynamoDB implementations of the services' ports live here too (``tasks.py``, ``batches.py``,
``lease.py``; ``conditions.py`` is the one "conditional check failed" helper).
May import: ``chalicelib.config``, ``chalicelib.domain``, and the port and value types of what it
stores (``transfer.ports``, the adapters' ``UploadedPart``, ``engine.fairness``,
``engine.retention``, ``metadata.filters``, ``stats.store``); never a service, a handler or the
container.
"""
