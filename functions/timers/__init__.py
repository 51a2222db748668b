"""The scheduled functions, one module per deployed function, each every minute: ``reconcile.py``
(``reconcile``: the reconciler and dispatcher backstop), ``jobs.py`` (``job_tick``: due job runs),
``feeds.py`` (``refresh_feeds``: due feed refreshes).
"""
