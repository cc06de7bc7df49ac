"""Raw bytes pushed on a Dramatiq Redis queue's list become dead letters, not a skipped warning.

Dramatiq keeps a message's body in ``<queue>.msgs`` and only its id on the
list; anything else pushed on the list is fetched as a ``None`` body, skipped
with ``Found 'None' message in message cache``, and left claimed (see
``orphans.lua``). :func:`dead_letter_orphans` re-claims each under a printable id
(``undecodable-<sha1>``) whose body is the bytes, and nacks it, so it is
dead-lettered like any undecodable message (its dead letter keeps the bytes,
``could not be decoded`` says why).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["dead_letter_orphans"]

log = logging.getLogger("lexigram_compat.dramatiq")

SCRIPT = Path(__file__).with_name("orphans.lua").read_text(encoding="utf-8")


def dead_letter_orphans(broker: Any, queue_name: str) -> int:
    """Dead-letter the ids ``broker``'s worker claimed on ``queue_name`` that have no message.

    Returns:
        How many there were.
    """
    client = broker.client
    acks = f"{broker.namespace}:__acks__.{broker.broker_id}.{queue_name}"
    messages = f"{broker.namespace}:{queue_name}.msgs"
    renamed: list[bytes] = client.eval(SCRIPT, 2, acks, messages)
    for rid in renamed:
        job_id = rid.decode()
        log.error(
            "queue %s: bytes that are no message id were on the queue; dead-lettered as %s",
            queue_name,
            job_id,
        )
        broker.do_nack(queue_name, job_id)
    return len(renamed)
