"""Seed import path ``lexigram.contracts.infra.tasks``: re-exports only."""

from lexigram_compat.errors import TaskQueueError
from lexigram_compat.queue import JobStatus, TaskQueueProtocol

__all__ = ["JobStatus", "TaskQueueError", "TaskQueueProtocol"]
