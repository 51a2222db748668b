"""Statistics: counters kept from the tasks table's stream, never a Scan (``store.py``:
``StatsStore``, the stream consumer's idempotent apply and the readers), and the statistics
and batch routes' response models (``schemas.py``).
May import: ``chalicelib.domain``, ``persistence``, ``settings``, ``api`` and the download
responses (a batch's tasks); never a service or the container.
"""
