"""The activity log: every state transition and user action, with who, what and when
(``log.py``: ``ActivityLog``, recording, the stream consumer, reading, export, clearing), and
the activity routes' response models (``schemas.py``).
May import: ``chalicelib.domain``, ``persistence``, ``settings``, ``api``; never a service or the
container.
"""
