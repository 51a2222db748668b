"""The DynamoDB table layer: PynamoDB models of every table and index, custom attributes, page
cursors, and the task repository.

What lives here: ``models.py`` (the tables, one ``Model`` per item kind, and the ones the
template and the local bootstrap create), ``indexes.py`` (their global secondary indexes),
``attributes.py`` (custom PynamoDB attributes), ``cursors.py`` (opaque page cursors over
``LastEvaluatedKey``), ``repository.py`` (the task repository the services call).
May import: ``chalicelib.config``, ``chalicelib.domain`` and plain types of the adapters and the
fairness store (``UploadedPart``, ``WaitingOwners``); never a service, a handler or the container.
"""
