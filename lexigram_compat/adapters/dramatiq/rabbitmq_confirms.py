"""Pipelined publisher confirms for the Dramatiq engine on RabbitMQ.

Dramatiq's broker publishes on pika's blocking channel, which waits for each message's
confirm: a run of N messages waits N round trips. Here a run of Dramatiq messages is
published on a py-amqp confirm channel
(:class:`~lexigram_compat.adapters.amqp_confirms.ConfirmChannel`, shared with the Celery
engine) without waiting, then every confirm of the run is awaited at once. The message
is the one ``RabbitmqBroker.enqueue`` sends (the same body, persistent, its broker
priority, to the queue or its delay queue with the ``eta`` option, ``mandatory``), and
the broker's ``enqueue`` middleware hooks run around it; queues are still declared by
Dramatiq's broker (its arguments, and the engine's handling of an older queue's
priority levels). Each publishing thread has its own connection, opened when first
needed and dropped after a failure (the next run opens a new one).
"""

from __future__ import annotations

import ast
import contextlib
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import amqp  # type: ignore[import-untyped]
import pika  # type: ignore[import-untyped]
from dramatiq.common import current_millis, dq_name

from lexigram_compat.adapters.amqp_confirms import ConfirmChannel, ConfirmStats, outcomes_of
from lexigram_compat.errors import ConfigurationError

if TYPE_CHECKING:
    from dramatiq import Message
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    from lexigram_compat.envelope import JobEnvelope

__all__ = ["PUBLISH_TIMEOUT", "DramatiqPipelinedPublisher", "tls_options"]

PUBLISH_TIMEOUT = 10.0
"""Seconds a run may wait to be written, and then for its confirms (pika's socket timeout)."""

BuildMessage = Callable[["JobEnvelope"], "tuple[Message[Any], int | None]"]
"""A job's Dramatiq message and its delay in milliseconds (None: not delayed)."""


class DramatiqPipelinedPublisher:
    """Runs of Dramatiq messages on confirm channels, one confirm wait per run."""

    def __init__(self, broker: RabbitmqBroker, url: str, build: BuildMessage) -> None:
        self.broker = broker
        self.build = build
        self.timeout = PUBLISH_TIMEOUT
        self.stats = ConfirmStats()
        self._url = url
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: set[Any] = set()

    def publish_run(self, run: Sequence[JobEnvelope]) -> list[BaseException | None]:
        """Publish ``run`` in order on this thread's confirm channel, then wait for its
        confirms. Per job: None once acked, else the error that kept it unconfirmed (a
        nack, the wait's timeout, the channel's or connection's error); the jobs after a
        failed publish are not published and get its error. A message RabbitMQ returns
        unroutable (its queue was deleted since it was declared) is published once more
        after its queue is declared again, as Dramatiq's own ``enqueue`` retries."""
        outcomes, returned = self._publish_run(run)
        if returned:
            self.broker.queues_pending.update(run[i].queue for i in returned)
            again = self._publish_run([run[i] for i in returned])[0]
            for index, outcome in zip(returned, again, strict=True):
                outcomes[index] = outcome
        return outcomes

    def _publish_run(self, run: Sequence[JobEnvelope]) -> tuple[list[BaseException | None], list[int]]:
        """Outcomes as :meth:`publish_run`'s, and the indexes of the messages returned."""
        try:
            # Queues first: a refused declare fails the run before any of it is published.
            for queue in dict.fromkeys(e.queue for e in run):
                self.broker.declare_queue(queue, ensure=True)
            confirm = self._channel()
        except Exception as exc:
            return [exc] * len(run), []
        tags: list[range] = []
        sent: list[tuple[Message[Any], int | None]] = []
        stopped: BaseException | None = None
        try:
            with confirm.transport_connection.transport.having_timeout(self.timeout), confirm.one_write():
                for envelope in run:
                    message, delay = self._message(envelope)
                    self.broker.emit_before("enqueue", message, delay)
                    first = confirm.next_tag
                    confirm.channel.basic_publish(
                        amqp.Message(
                            message.encode(),
                            delivery_mode=2,
                            priority=message.options.get("broker_priority"),
                            message_id=envelope.job_id,  # tells a returned message apart
                        ),
                        routing_key=message.queue_name,
                        mandatory=True,
                    )
                    tags.append(range(first, confirm.next_tag))
                    sent.append((message, delay))
        except Exception as exc:
            stopped = exc
        waited: BaseException | None = None
        if tags:  # on a broken connection the wait fails at once
            waited = self.stats.wait(confirm, self.timeout)
        ids = [e.job_id for e in run[: len(tags)]]
        returned = [i for i, job_id in enumerate(ids) if job_id in confirm.returned]
        outcomes = outcomes_of(confirm, tags, waited, ids)
        if waited is not None or stopped is not None or len(returned) < sum(o is not None for o in outcomes):
            self._drop()  # it may still owe confirms: a new one next run
        for (message, delay), outcome in zip(sent, outcomes, strict=True):
            if outcome is None:
                self.broker.emit_after("enqueue", message, delay)
        outcomes.extend([stopped] * (len(run) - len(tags)))
        return outcomes, returned

    def _message(self, envelope: JobEnvelope) -> tuple[Message[Any], int | None]:
        """As ``RabbitmqBroker.enqueue``: a delayed message goes to the delay queue with its eta."""
        message, delay = self.build(envelope)
        if delay is not None:
            message = message.copy(
                queue_name=dq_name(message.queue_name), options={"eta": current_millis() + delay}
            )
        return message, delay

    def _channel(self) -> ConfirmChannel:
        confirm: ConfirmChannel | None = getattr(self._local, "confirm", None)
        if confirm is not None:
            if confirm.still_open():
                return confirm
            self._drop()
        parameters = pika.URLParameters(self._url)
        connection = amqp.Connection(
            host=f"{parameters.host}:{parameters.port}",
            userid=parameters.credentials.username,
            password=parameters.credentials.password,
            virtual_host=parameters.virtual_host,
            ssl=tls_options(self._url, parameters.host),
            connect_timeout=self.timeout,
            client_properties={"connection_name": "lexigram dramatiq publisher"},
        )
        connection.connect()
        confirm = ConfirmChannel(connection, connection.channel())
        self._local.confirm = confirm
        with self._lock:
            self._connections.add(connection)
        self.stats.channel_opened()
        return confirm

    def _drop(self) -> None:
        confirm: ConfirmChannel | None = getattr(self._local, "confirm", None)
        self._local.confirm = None
        if confirm is None:
            return
        with self._lock:
            self._connections.discard(confirm.transport_connection)
        with contextlib.suppress(Exception):
            confirm.transport_connection.collect()

    def close(self) -> None:
        """Close every thread's connection (the engine's close)."""
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            try:
                connection.close()
            except Exception:
                with contextlib.suppress(Exception):
                    connection.collect()


_TLS_KEYS = {"ca_certs": "ca_certs", "cafile": "ca_certs", "certfile": "certfile", "keyfile": "keyfile",
             "ciphers": "ciphers", "server_hostname": "server_hostname"}  # fmt: skip
"""pika's ``ssl_options`` URL keys that py-amqp's TLS wrapping takes (by its name for them)."""


def tls_options(url: str, host: str) -> dict[str, Any] | bool:
    """py-amqp's ``ssl`` argument for the broker ``url``: False for ``amqp://``; for
    ``amqps://`` the peer's certificate verified against the system's CAs (or the URL's
    ``ssl_options`` ``ca_certs``) and its name checked against ``host``, as pika's
    default context does. ``ssl_options`` keys py-amqp cannot take are refused by name
    (a publisher that silently dropped a CA or a client key would connect unverified
    or not at all)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "amqps":
        return False
    tls: dict[str, Any] = {"server_hostname": host, "cert_reqs": ssl.CERT_REQUIRED}
    raw = urllib.parse.parse_qs(parts.query).get("ssl_options")
    if raw:
        given = ast.literal_eval(raw[-1])
        unknown = sorted(set(given or {}) - set(_TLS_KEYS))
        if unknown:
            raise ConfigurationError(
                f"the RabbitMQ URL's ssl_options {unknown} cannot be applied by the enqueue "
                "publisher (py-amqp)",
                hint=f"use only {sorted(_TLS_KEYS)} in ssl_options, e.g. a CA file as ca_certs",
            )
        tls.update({_TLS_KEYS[key]: value for key, value in (given or {}).items()})
    return tls
