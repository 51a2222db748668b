"""The worker side of the engine: probe and plan, move parts, finish.

Work messages (JSON on the SQS work queue, typed and checked in messages.py):

- ``start``  {task, run, attempt, fresh, reason}: probe the origin, plan the parts (or resume
  the plan when the source is unchanged: chalicelib/domain/resume.py) and send one ``lane``
  message per lane of parallelism (planner.py).
- ``lane``   {task, gen, run, lane, lanes, step, token, parts, attempt}: fetch the first part of
  ``parts`` (runs of part numbers), pass the rest of the lane on as a new message (step + 1,
  new token), then upload and record the part; so the lane's next fetch overlaps this upload
  (lanes.py: claims, catch-up of a lane that moved on).
- ``stream`` {task, gen, run, token, attempt}: for origins without Range support, the body
  is read once, in order, into parts (streams.py).

Limits (issue #5; limits.py), read from the settings when each message is handled:
per-host connections (a lane that finds no free slot of its host sends its own message
again 1-5 s later, ``attempt`` untouched: waiting is not a failure) and the speed limit (each
lane reads at most its share; under a limit the plan keeps each part readable within
``PART_SECONDS``). Finishing, failing, restarting and retrying: outcomes.py.

Every message carries the task's ``run`` (bumped each time the task is (re)dispatched) and
``gen`` (bumped each time the source is planned afresh); anything from an older run or
generation is dropped.

Layout: ``service.Transfer`` (the entry point the worker calls) builds the parts from the
collaborators the composition root passes in; ``ports`` is what it needs from storage,
queues and origins (Protocols), ``context`` the shared collaborators and limits.
May import: the domain, the adapters (origin, storage, hostslots, pacing), settings,
retention, activity; never PynamoDB (that is chalicelib/persistence/).
"""

from .context import INVOCATION_SECONDS
from .delivery import Delivery
from .service import Transfer

__all__ = ["INVOCATION_SECONDS", "Delivery", "Transfer"]
