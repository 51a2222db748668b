"""The download engine's control side: what runs when, and how fast.

``dispatcher.py`` (starts queued downloads, fairly between users, while there is room; who
has queued work and who was served when is its ``WaitingList``, stored by
chalicelib/persistence/waiting.py), ``queuecontrol.py`` (whether the queue runs: started,
stopped, paused until; ``QueueSwitch``), ``hostslots.py`` (per-host connection limits;
``HostSlots``; their DynamoDB side is in chalicelib/persistence/), ``reconciler.py``
(re-dispatches stalled downloads, sweeps expired history), ``retention.py`` (when finished
downloads expire), ``schemas.py`` (the queue-control and bulk routes' response models).
The worker's transfer logic is ``chalicelib.transfer``.
May import: ``chalicelib.domain``, ``api``, ``persistence``, ``adapters``, ``settings``,
``activity``, ``auth.identity`` and the worker's message and port types (``transfer.messages``,
``transfer.ports``); never ``downloads``, a handler or the container.
"""
