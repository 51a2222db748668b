"""Statistics: counters kept from the tasks table's stream, never a Scan (``store.py``:
``StatsStore``, the stream consumer's idempotent apply and the readers), and the statistics
routes' response models (``schemas.py``; the batch routes' are chalicelib/downloads/responses.py).
May import: ``chalicelib.domain``, ``persistence``, ``settings``, ``api``; never a service or the
container.
"""
