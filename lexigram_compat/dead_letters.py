"""The uniform ``DeadLetterQueue`` over each engine's native dead-letter store."""

from __future__ import annotations

import builtins
import logging
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lexigram_compat.envelope import JobEnvelope, utcnow
from lexigram_compat.errors import JobNotFoundError, TaskQueueError, TaskValidationError
from lexigram_compat.queue import DeadLetter
from lexigram_compat.queue_handle import engine_errors
from lexigram_compat.result import Err, Ok, Result

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend
    from lexigram_compat.config import RetentionConfig
    from lexigram_compat.engine_contract import DeadLetterStore

__all__ = ["DeadLetterQueue", "enforce_retention"]

log = logging.getLogger("lexigram_compat.dead_letters")


class DeadLetterQueue:
    """Inspect, replay and purge the jobs that failed for good on one backend."""

    def __init__(self, app: TasksApp, backend: Backend) -> None:
        self._app = app
        self._backend = backend

    def __repr__(self) -> str:
        return f"<DeadLetterQueue of {self._backend.name!r}>"

    @property
    def _store(self) -> DeadLetterStore:
        return self._backend.engine.dead_letter_store

    async def _retained(self) -> DeadLetterStore:
        """The store, after dropping what ``tasks.retention`` no longer keeps."""
        store = self._store
        retention = self._app.config.retention
        if retention.dead_letter_seconds is not None or retention.dead_letter_max is not None:
            await enforce_retention(store, retention)
        return store

    async def list(self, limit: int = 50, offset: int = 0, task_name: str | None = None) -> list[DeadLetter]:
        """Dead letters, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError(f"list(limit={limit!r}, offset={offset!r}): both must be >= 0")
        return await (await self._retained()).list(limit, offset, task_name)

    async def get(self, job_id: str) -> DeadLetter | None:
        """One dead letter by job id."""
        return await (await self._retained()).get(job_id)

    async def count(self) -> int:
        """How many dead letters there are."""
        return await (await self._retained()).count()

    async def replay(self, job_id: str) -> Result[str, TaskQueueError]:
        """Enqueue the dead job again as a new job (attempts reset) and remove the entry.

        The new job is written before the entry is removed, so a failure in
        between can duplicate a replay but never lose the job.
        """
        letter = await self._store.get(job_id)
        if letter is None:
            return Err(JobNotFoundError(f"no dead letter with job id {job_id!r}"))
        return await self._replay(letter)

    async def _replay(self, letter: DeadLetter) -> Result[str, TaskQueueError]:
        if letter.raw is not None:
            return Err(
                TaskValidationError(
                    f"dead letter {letter.job_id!r} holds an undecodable payload and cannot be replayed",
                    hint="inspect it with get() and purge it",
                )
            )
        task = self._app.registry.get(letter.task_name)
        policy = task.policy(self._app.default_policy) if task else self._app.default_policy
        envelope = JobEnvelope(
            job_id=str(uuid.uuid4()),
            task_name=letter.task_name,
            queue=letter.queue,
            args=list(letter.args),
            kwargs=dict(letter.kwargs),
            attempts=0,
            max_attempts=policy.max_attempts,
            priority=letter.priority,
            timeout=task.timeout if task else None,
        )
        engine = self._backend.engine
        written = await engine_errors("replay", lambda: engine.enqueue([envelope]))
        if written.is_err():
            return Err(written.unwrap_err())
        await self._store.remove(letter.job_id)
        return Ok(written.unwrap()[0])

    async def replay_all(self, task_name: str | None = None) -> Result[builtins.list[str], TaskQueueError]:
        """Replay every dead letter (of one task) present when called.

        The set is taken first, so jobs that fail again while this runs are not
        replayed a second time. Undecodable letters are left in place. Stops
        at the first failure, returning it; letters not yet replayed stay.
        """
        snapshot: builtins.list[DeadLetter] = []
        while batch := await self._store.list(500, len(snapshot), task_name):
            snapshot.extend(batch)
        new_ids: builtins.list[str] = []
        for letter in snapshot:
            if letter.raw is not None or await self._store.get(letter.job_id) is None:
                continue  # undecodable, or purged/replayed by someone else meanwhile
            result = await self._replay(letter)
            if result.is_err():
                return Err(result.unwrap_err())
            new_ids.append(result.unwrap())
        return Ok(new_ids)

    async def purge(self, job_id: str) -> bool:
        """Delete one dead letter; False if it was not there."""
        return await self._store.remove(job_id)

    async def purge_all(self, older_than: timedelta | datetime | None = None) -> int:
        """Delete all dead letters, or those that failed before a cutoff (age or time)."""
        cutoff = utcnow() - older_than if isinstance(older_than, timedelta) else older_than
        return await self._store.purge_all(cutoff)


async def enforce_retention(store: DeadLetterStore, retention: RetentionConfig) -> int:
    """Drop, and log, the dead letters ``retention`` no longer keeps
    (``dead_letter_seconds``, ``dead_letter_max``): the one place that rule lives,
    whatever the store. Returns how many were dropped."""
    dropped = 0
    if retention.dead_letter_seconds is not None:
        cutoff = utcnow() - timedelta(seconds=retention.dead_letter_seconds)
        expired = await store.purge_all(cutoff)
        if expired:
            log.warning(
                "dropped %d dead letter(s) older than retention.dead_letter_seconds=%s",
                expired,
                retention.dead_letter_seconds,
            )
        dropped += expired
    if retention.dead_letter_max is not None:
        over = await store.trim(retention.dead_letter_max)
        if over:
            log.warning(
                "dropped %d oldest dead letter(s) over retention.dead_letter_max=%d: %s",
                len(over),
                retention.dead_letter_max,
                ", ".join(over),
            )
        dropped += len(over)
    return dropped
