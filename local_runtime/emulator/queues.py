"""The emulator's SQS requests without two of moto's per-request loops (emulator performance).

- ``camelcase_to_underscores`` (moto.core.utils) turns an AWS name into a Python one character
  by character. moto's SQS asks it for each of a queue's ~15 attribute names every time it
  reads the queue's attributes (``Queue.attributes``), which a ReceiveMessage does twice (the
  retention check) and the emulator's snapshot counter once per change: about 40 % of the
  emulator's CPU for a SendMessage, ReceiveMessage and DeleteMessageBatch in a profile
  (docs/performance.md). It is a function of its argument only: each name's answer is kept.
- A receipt handle is 185 lowercase letters from moto's random source, drawn with 185
  ``choice`` calls: one ``choices`` draw instead (as for moto's request ids, wsgi.py).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, cast

_KEPT = 4096  # distinct names kept (moto converts a few hundred)


def _kept(original: Callable[[str], str]) -> Callable[[str], str]:
    known: dict[str, str] = {}
    lock = threading.Lock()

    @functools.wraps(original)
    def camelcase_to_underscores(argument: str) -> str:
        found = known.get(argument) if type(argument) is str else None
        if found is None:
            found = original(argument)
            if type(argument) is str:
                with lock:
                    if len(known) < _KEPT:
                        known[argument] = found
        return found

    return camelcase_to_underscores


def _handle_at_once(original: Callable[[], str]) -> Callable[[], str]:
    import string

    from moto.moto_api._internal import mock_random

    letters = string.ascii_lowercase

    @functools.wraps(original)
    def generate_receipt_handle() -> str:
        return "".join(mock_random.choices(letters, k=185))

    return generate_receipt_handle


def targets() -> list[tuple[type, str, Callable[[Any], Any]]]:
    """(class, attribute, wrap) for local_runtime.emulator.server._patch(): the functions where
    moto's modules look them up (each module that imported the name has its own binding)."""
    from moto.core import responses, utils
    from moto.sqs import models as sqs_models
    from moto.sqs import utils as sqs_utils

    return [
        *[(cast(type, module), "camelcase_to_underscores", _kept) for module in (utils, responses, sqs_models)],
        *[(cast(type, module), "generate_receipt_handle", _handle_at_once) for module in (sqs_utils, sqs_models)],
    ]
