"""A Celery consumer that dead-letters what it cannot run, instead of dropping it
or crashing on it.

Celery's own consumer logs and drops undecodable bytes and unknown task names,
and a message missing its ``id`` header or with a two-item body escapes the
consumer and stops the worker (celery#7975, #4308), and a body for a known task
whose args/kwargs are not a list/object fails inside the task's trace and is
acked and dropped. Here each of those becomes a
dead letter with the reason (the raw bytes kept for undecodable ones), the
message is acknowledged, and the worker keeps consuming. The engine's app
selects this class with the ``worker_consumer`` setting.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from celery.worker.consumer import Consumer

from lexigram_compat.adapters.celery.guarded_redis import REASON_HEADER
from lexigram_compat.foreign_payloads import envelope_problem

if TYPE_CHECKING:
    from lexigram_compat.adapters.celery.runtime import CeleryWorker

__all__ = ["DeadLetteringConsumer"]

log = logging.getLogger("lexigram_compat.celery")


def _raw(message: Any) -> bytes:
    body = message.body
    if isinstance(body, bytes):
        return body
    return str(body).encode()


def _body_problem(message: Any) -> str | None:
    """Why a protocol-v2 task message's body is not ``[args list, kwargs dict,
    embed dict or null]``, or why a body without a ``task`` header is a lexigram
    envelope pushed raw rather than a protocol-1 message; None when neither."""
    if "task" not in _headers(message):
        try:
            return envelope_problem(message.decode(), "Celery")  # else Celery runs it as protocol 1
        except Exception:
            return None  # Celery's own decode error path dead-letters it
    try:
        body = message.decode()
    except Exception:
        return None  # Celery's own decode error path dead-letters it
    if not isinstance(body, list | tuple) or len(body) != 3:
        return f"a task message body must be [args, kwargs, embed], got {_preview(body)}"
    args, kwargs, embed = body
    if not isinstance(args, list | tuple):
        return f"task args must be a list, got {_preview(args)}"
    if not isinstance(kwargs, dict):
        return f"task kwargs must be an object, got {_preview(kwargs)}"
    if embed is not None and not isinstance(embed, dict):
        return f"task embed must be an object or null, got {_preview(embed)}"
    return None


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _headers(message: Any) -> dict[str, Any]:
    headers = getattr(message, "headers", None)
    return headers if isinstance(headers, dict) else {}


class DeadLetteringConsumer(Consumer):  # type: ignore[misc]
    """Celery's consumer, with bad messages dead-lettered and acknowledged."""

    @property
    def _worker(self) -> CeleryWorker:
        worker: CeleryWorker = self.app.lexigram_worker
        return worker

    def _park(self, message: Any, *, problem: str, task_name: str | None = None, body: Any = None) -> None:
        headers = _headers(message)
        job_id = str(
            headers.get("id") or getattr(message, "properties", {}).get("correlation_id") or uuid.uuid4()
        )
        queue = (getattr(message, "delivery_info", None) or {}).get("routing_key") or ""
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        if task_name is not None and isinstance(body, list | tuple) and len(body) >= 2:
            args = list(body[0]) if isinstance(body[0], list | tuple) else []
            kwargs = dict(body[1]) if isinstance(body[1], dict) else {}
        try:
            self._worker.dead_letter_message(
                job_id=job_id,
                task_name=task_name,
                queue=queue or self.app.conf.task_default_queue,
                args=args,
                kwargs=kwargs,
                problem=problem,
                raw=None if task_name is not None else _raw(message),
            )
        except Exception:
            log.exception("could not dead-letter message %s; returning it to the queue", job_id)
            message.reject(requeue=True)
            return
        log.error("dead-lettered message %s: %s", job_id, problem)
        message.ack()

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        # A list item the guarded Redis transport could not parse carries its reason.
        reason = _headers(message).get(REASON_HEADER)
        self._park(message, problem=reason if isinstance(reason, str) else f"not JSON: {exc}")

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self._park(message, problem="not a Celery task message (no 'task' header or field)")

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        name = _headers(message).get("task")
        if not isinstance(name, str):
            self._park(message, problem=f"unknown task: {exc!r}")
            return
        try:
            decoded = message.decode()
        except Exception as error:
            self._park(message, problem=f"not JSON: {error}")
            return
        self._park(message, problem=f"unknown task {name!r}", task_name=name, body=decoded)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self._park(message, problem=f"invalid task message: {exc}")

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        handler: Callable[[Any], Any] = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Any) -> Any:
            problem = _body_problem(message)
            if problem is not None:
                # Celery would fail on it inside the task's trace, then ack and drop it.
                self._park(message, problem=problem)
                return None
            try:
                return handler(message)
            except Exception as exc:  # a malformed message must never stop the consumer
                self._park(message, problem=f"malformed task message: {type(exc).__name__}: {exc}")
                return None

        return on_task_received
