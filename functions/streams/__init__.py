"""The tasks table's stream consumers, one module per deployed function, each at its own pace with
its own retries: ``fanout.py`` (``fanout_changes``: WebSocket pushes), ``stats.py``
(``aggregate_changes``: counters), ``activity.py`` (``log_changes``: the activity log),
``notify.py`` (``notify_changes``: notification events).
"""
