"""Raw bytes pushed on a Dramatiq Redis queue's list, and message bodies of the wrong
shape, become dead letters, not a skipped warning or a broken consumer.

Dramatiq keeps a message's body in ``<queue>.msgs`` and only its id on the
list; anything else pushed on the list is fetched as a ``None`` body, skipped
with ``Found 'None' message in message cache``, and left claimed (see
``orphans.lua``). :func:`dead_letter_orphans` re-claims each under a printable id
(``undecodable-<sha1>``) whose body is the bytes, and nacks it, so it is
dead-lettered like any undecodable message (its dead letter keeps the bytes,
``could not be decoded`` says why).

A body that is no Dramatiq message (:func:`~.messages.message_problem`: not JSON,
not an object, a field of the wrong type) is dead-lettered by
:func:`dead_letter_misshapen` before Dramatiq decodes it: its ``Message.decode``
accepts a string for ``options`` or a list for ``kwargs``, and the consumer then
fails on them, after the job ran or instead of keeping a dead letter.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

__all__ = ["dead_letter_misshapen", "dead_letter_orphans"]

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


def dead_letter_misshapen(broker: Any, queue_name: str, bodies: dict[bytes, str]) -> None:
    """Dead-letter the messages ``broker``'s worker claimed on ``queue_name`` whose
    body is a key of ``bodies`` (the value: what is wrong with it)."""
    client = broker.client
    acks = f"{broker.namespace}:__acks__.{broker.broker_id}.{queue_name}"
    messages = f"{broker.namespace}:{queue_name}.msgs"
    claimed = list(client.smembers(acks))
    if not claimed:
        return
    for rid, body in zip(claimed, client.hmget(messages, claimed), strict=True):
        problem = bodies.get(body) if body is not None else None
        if problem is None:
            continue
        job_id = rid.decode() if isinstance(rid, bytes) else str(rid)
        log.error("queue %s: message %s is no Dramatiq message (%s); dead-lettered",
                  queue_name, job_id, problem)  # fmt: skip
        broker.do_nack(queue_name, job_id)
