"""The worker function (deployed as ``work``, the work queue's consumer: a transfer's lanes and
parts, dispatcher kicks, feed refreshes, left-over NFO work) and the dead-letter queue's consumer
(``dead_letters``): ``handlers.py``.
"""
