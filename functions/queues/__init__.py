"""The SQS consumers other than the worker, one module per deployed function: ``jobs.py``
(``job_runs``), ``notify.py`` (``notify_deliveries``); ``consume.py`` is what they share (one
message at a time, failures reported per message).
"""
