"""The settle step: what happens after an attempt, once, for every engine's worker.

The native worker, the Dramatiq actor and the Celery task body each hand an
attempt's :data:`~lexigram_compat.outcomes.Outcome` to :meth:`Settler.settle`
with a :class:`Settlement`: the engine's translation of "record success",
"retry at ``run_at``" and "dead-letter" into its ledger and broker (how to put
a message back, how to ack). Everything else is decided here:

- success, retry with the policy's delay (computed by ``execute``), dead letter
  (the one place a :class:`~lexigram_compat.queue.DeadLetter` is built for a
  failed job, :func:`~lexigram_compat.letters.dead_letter_of`);
- the poison-pill rule (:meth:`Settler.lost`): an attempt whose worker died
  counts; the job gets its next attempt after the policy's delay, and after
  ``max_attempts`` lost or failed attempts it is dead-lettered as
  :class:`~lexigram_compat.errors.WorkerLostError` — never run once more;
- recording through an outage: the start of a delivery and each recording step
  are retried with backoff for up to :data:`LEDGER_OUTAGE_SECONDS` while the
  ledger is unreachable (other failures :data:`RECORD_TRIES` times); a start that
  still fails propagates (the engine gives the delivery back), a recording step is
  handed to :meth:`Settlement.unsettled`;
- the job's start conditions: its task's rate limit (the attempt waits for its turn in
  this worker process, :mod:`lexigram_compat.rate_limits`) and its expiry (an attempt
  not started by ``expires_at`` is not run: the job is dead-lettered with
  :class:`~lexigram_compat.errors.JobExpiredError`, :func:`expired`);
- job events and their log lines (``started``, ``succeeded``, ``retried``,
  ``dead_lettered``), emitted only for outcomes the ledger accepted, and the
  app's lifecycle hooks (:mod:`lexigram_compat.hooks`) at the same points.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from lexigram_compat.envelope import JobEnvelope, utcnow
from lexigram_compat.errors import JobExpiredError, WorkerLostError
from lexigram_compat.hooks import Hooks
from lexigram_compat.job_context import job_context_of
from lexigram_compat.letters import dead_letter_of
from lexigram_compat.outcomes import Completed, DeadLettered, Outcome, RetryLater, failure_of
from lexigram_compat.rate_limits import wait_for_turn
from lexigram_compat.retry import cause_of
from lexigram_compat.retrying import retry_while_unreachable
from lexigram_compat.tracing import attempt_span
from lexigram_compat.worker.execution import ExecutionContext, execute, policy_for

if TYPE_CHECKING:
    from lexigram_compat.ledger import AttemptRecords, Delivery, StartVerdict
    from lexigram_compat.observability import JobEvents
    from lexigram_compat.outcomes import FailureInfo
    from lexigram_compat.records import DeadLetter
    from lexigram_compat.retry import RetryPolicy

__all__ = ["LEDGER_OUTAGE_SECONDS", "RECORD_TRIES", "Settlement", "Settler", "expired", "lost_attempt"]

log = logging.getLogger("lexigram_compat.worker")

T = TypeVar("T")

RECORD_TRIES = 5
"""Tries of a recording step that fails for another reason than an unreachable ledger."""
RECORD_BACKOFF = 0.2
"""Seconds before the second try of a start or recording step, doubled for each next one."""
LEDGER_OUTAGE_SECONDS = 10.0
"""How long a worker keeps trying to start a delivery, or to record an attempt's outcome,
while its job ledger is unreachable (a broker restart takes seconds). After that a start
is given back to the broker, to come again, never to the dead letters (the job did
nothing wrong), and an outcome goes to ``Settlement.unsettled``."""


class Settlement(abc.ABC):
    """How one engine records the outcome of one delivery: translation only.

    Each method returns False when the ledger refused the outcome as stale
    (another attempt owns the job); an exception is retried by the settle step.
    A method may be called again after it raised, so one that does several
    things (a record, then a broker message) must not redo a part that succeeded.
    """

    @abc.abstractmethod
    async def complete(self, result: Any) -> bool:
        """Record success (and ack). Raise ``ValueError`` for a result the ledger
        cannot store: the job is then dead-lettered with that reason."""

    @abc.abstractmethod
    async def retry(self, outcome: RetryLater) -> bool:
        """Record the failed attempt and have the job run again at ``outcome.run_at``."""

    @abc.abstractmethod
    async def dead_letter(self, letter: DeadLetter, failure: FailureInfo) -> bool:
        """Record that the job failed for good and keep ``letter``."""

    def unsettled(self, step: str, error: BaseException) -> None:
        """Every try of ``step`` failed (``error`` the last): by default the error
        propagates (the engine gives the delivery back to its broker)."""
        raise error


class Settler:
    """The settle step of one app's jobs (see the module docstring)."""

    def __init__(self, context: ExecutionContext, events: JobEvents, hooks: Hooks | None = None) -> None:
        self.context = context
        self.events = events
        self.hooks = hooks if hooks is not None else Hooks()

    def max_attempts_of(self, task_name: str) -> int:
        """The attempts a job of ``task_name`` gets when its message does not say (a job
        sent by code that does not use this library): its task's policy, or the default."""
        task = self.context.registry.get(task_name)
        default = self.context.default_policy
        return (task.policy(default) if task is not None else default).max_attempts

    # -- before an attempt --------------------------------------------------------
    async def begin(
        self, envelope: JobEnvelope, verdict: StartVerdict, target: Settlement
    ) -> JobEnvelope | None:
        """Apply the ledger's start verdict to a delivered job: the envelope of the
        attempt to run now (``attempts`` counting it), or None when it must not run
        (finished, cancelled, or a lost attempt settled here by :meth:`lost`)."""
        counted = replace(
            envelope, attempts=verdict.attempt, max_attempts=verdict.max_attempts or envelope.max_attempts
        )
        if verdict.run:
            return counted
        if verdict.lost:
            await self.settle(counted, self.lost(counted), target)
            return None
        log.info("job %s (%s) is %s: not run", envelope.job_id, envelope.task_name, verdict.status.value)
        return None

    async def start(self, ledger: AttemptRecords, delivery: Delivery, envelope: JobEnvelope) -> StartVerdict:
        """``ledger.start``, tried again with backoff for up to :data:`LEDGER_OUTAGE_SECONDS`
        while the ledger is unreachable; then (or for any other failure) the error propagates.

        A try whose answer was lost may have marked the job running: the next try then
        finds it running, and the poison-pill rule counts that attempt as lost."""
        return await _retried(envelope, "start it", lambda: ledger.start(delivery, envelope), other_tries=1)

    def lost(self, envelope: JobEnvelope) -> RetryLater | DeadLettered:
        """The poison-pill rule for this app's jobs (:func:`lost_attempt`)."""
        return lost_attempt(
            envelope, policy_for(self.context.registry, self.context.default_policy, envelope)
        )

    # -- one attempt ------------------------------------------------------------------
    async def run(self, envelope: JobEnvelope, target: Settlement) -> Outcome:
        """Run attempt ``envelope.attempts`` of the job and settle it (inside the
        attempt's trace span when OpenTelemetry is installed: :mod:`lexigram_compat.tracing`).
        A job past its expiry is settled as expired instead, without running."""
        task = self.context.registry.get(envelope.task_name)
        per_second = None if task is None else task.rate_limit
        if envelope.expires_at is not None or per_second is not None:
            too_late = await self._wait_to_start(envelope, per_second)
            if too_late is not None:
                return await self.settle(envelope, too_late, target)
        self.events.started(envelope)
        hooks = self.hooks
        if hooks.registered:
            await hooks.fire("attempt_started", job_context_of(envelope))
        with attempt_span(envelope, self.events.engine_of) as span:
            outcome = await execute(self.context, envelope)
            span.end_with(outcome)
        if type(outcome) is Completed:
            # Every engine's hot path: one await, no closure. A write that fails
            # (or a result the ledger refuses) goes the whole way through settle().
            try:
                accepted = await target.complete(outcome.result)
            except Exception:
                settled = await self.settle(envelope, outcome, target)
            else:
                settled = outcome
                if accepted:
                    self.events.succeeded(envelope, outcome.duration)
                    if hooks.registered:
                        await hooks.fire("succeeded", job_context_of(envelope), outcome.result)
                else:
                    self._rejected(envelope)
        else:
            settled = await self.settle(envelope, outcome, target)
        if hooks.registered:
            await hooks.fire("attempt_finished", job_context_of(envelope), settled)
        return settled

    @staticmethod
    async def _wait_to_start(envelope: JobEnvelope, per_second: float | None) -> DeadLettered | None:
        """Wait for the task's rate limit (``per_second``, when it has one); the expired
        outcome when the job's expiry passed before it could start (checked before and
        after the wait)."""
        if (too_late := expired(envelope)) is not None:
            return too_late
        if per_second is not None:
            await wait_for_turn(envelope.task_name, per_second)
        return expired(envelope)

    async def settle(
        self, envelope: JobEnvelope, outcome: Outcome, target: Settlement, *, raw: bytes | None = None
    ) -> Outcome:
        """Record ``outcome`` of attempt ``envelope.attempts`` through ``target``
        (``raw``: the bytes of a delivery that was not a job)."""
        if isinstance(outcome, Completed):
            result = outcome.result
            try:
                accepted = await self._persist(target, envelope, "record its success",
                                               lambda: target.complete(result))  # fmt: skip
            except ValueError as exc:
                # The ledger cannot store this result: the job fails for good, with
                # the real reason (another attempt would produce the same value).
                log.error("job %s: its result cannot be stored: %s", envelope.job_id, exc)
                outcome = DeadLettered(failure_of(exc), exc)
            else:
                if accepted:
                    self.events.succeeded(envelope, outcome.duration)
                    if self.hooks.registered:
                        await self.hooks.fire("succeeded", job_context_of(envelope), result)
                elif accepted is not None:
                    self._rejected(envelope)
                return outcome
        if isinstance(outcome, RetryLater):
            retry = outcome
            accepted = await self._persist(target, envelope, "record its retry", lambda: target.retry(retry))
            if accepted:
                self.events.retried(envelope, retry.delay, retry.failure.summary(), duration=retry.duration)
                if self.hooks.registered:
                    await self._failed(envelope, retry.error, "retried", retry.delay)
        else:
            failure = outcome.failure
            letter = dead_letter_of(None if raw is not None else envelope, failure,
                                    job_id=envelope.job_id, queue=envelope.queue, raw=raw)  # fmt: skip
            accepted = await self._persist(
                target, envelope, "dead-letter it", lambda: target.dead_letter(letter, failure)
            )
            if accepted:
                self.events.dead_lettered(envelope, failure.summary(), duration=outcome.duration)
                if self.hooks.registered:
                    await self._failed(envelope, outcome.error, "dead_lettered")
        if accepted is False:
            self._rejected(envelope)
        return outcome

    async def _persist(
        self, target: Settlement, envelope: JobEnvelope, step: str, write: Callable[[], Awaitable[bool]]
    ) -> bool | None:
        """Run one recording step, retried with backoff (:func:`_retried`). None: it
        kept failing and ``target.unsettled`` took the delivery over (a job that ran is
        not run again because its outcome could not be written)."""
        try:
            return await _retried(envelope, step, write, other_tries=RECORD_TRIES)
        except ValueError:
            raise
        except Exception as exc:
            log.error("job %s ran, but the worker could not %s: %s: %s",
                      envelope.job_id, step, type(exc).__name__, exc)  # fmt: skip
            target.unsettled(step, exc)
            return None

    async def _failed(
        self, envelope: JobEnvelope, error: BaseException | None, then: str, *more: Any
    ) -> None:
        """The hooks of a failed attempt: ``failed``, then ``retried`` or ``dead_lettered``."""
        context = job_context_of(envelope)
        if error is not None:
            error = cause_of(error)  # the real cause, as in the dead letter and the log line
        await self.hooks.fire("failed", context, error)
        await self.hooks.fire(then, context, error, *more)

    def _rejected(self, envelope: JobEnvelope) -> None:
        log.warning(
            "job %s: outcome of attempt %d rejected: another attempt owns the job "
            "(this worker's lease had expired, or the job was cancelled)",
            envelope.job_id,
            envelope.attempts,
        )


def expired(envelope: JobEnvelope) -> DeadLettered | None:
    """The outcome of an attempt that must not start because the job's expiry passed,
    or None (no expiry, or not yet)."""
    expires_at = envelope.expires_at
    if expires_at is None:
        return None
    now = utcnow()
    if now < expires_at:
        return None
    error = JobExpiredError(
        f"job {envelope.job_id} ({envelope.task_name}) expired at {expires_at.isoformat()} before "
        f"attempt {envelope.attempts} started ({(now - expires_at).total_seconds():.3f}s late); not run"
    )
    return DeadLettered(failure_of(error, with_traceback=False), error)


def lost_attempt(envelope: JobEnvelope, policy: RetryPolicy) -> RetryLater | DeadLettered:
    """The poison-pill rule, for attempt ``envelope.attempts`` whose worker died (or
    lost its lease): it counts as failed; the job gets its next attempt after the
    policy's delay while attempts remain, else it is dead-lettered as
    :class:`~lexigram_compat.errors.WorkerLostError` (the job may be what kills its
    workers: it is not run again)."""
    attempt = max(1, envelope.attempts)
    if attempt >= policy.max_attempts:
        error = WorkerLostError(
            f"job {envelope.job_id} ({envelope.task_name}): its worker was lost during attempt "
            f"{attempt} of {policy.max_attempts}; not run again"
        )
        return DeadLettered(failure_of(error, with_traceback=False), error)
    error = WorkerLostError(
        f"job {envelope.job_id} ({envelope.task_name}): its worker was lost during attempt {attempt}"
    )
    delay = policy.delay_for(attempt)
    failure = failure_of(error, with_traceback=False)
    return RetryLater(utcnow() + timedelta(seconds=delay), delay, failure, error)


async def _retried(
    envelope: JobEnvelope, step: str, call: Callable[[], Awaitable[T]], *, other_tries: int
) -> T:
    """``call()``, tried again with backoff (:func:`~lexigram_compat.retrying.retry_while_unreachable`):
    while the ledger is unreachable for up to :data:`LEDGER_OUTAGE_SECONDS`, for any other
    failure ``other_tries`` times in all. Raises the last failure."""

    def told(exc: BaseException, pause: float, unreachable: bool) -> None:
        reason = "the job ledger is unreachable" if unreachable else f"{type(exc).__name__}: {exc}"
        log.warning("job %s: could not %s (%s); trying again in %gs", envelope.job_id, step, reason, pause)

    return await retry_while_unreachable(
        call,
        seconds=LEDGER_OUTAGE_SECONDS,
        first_pause=RECORD_BACKOFF,
        other_tries=other_tries,
        on_retry=told,
    )
