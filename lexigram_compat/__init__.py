"""lexigram-compat: Lexigram's background-job API on real engines.

Declare work with ``@task`` / ``@scheduled``, enqueue through
``TaskQueueProtocol`` (``Result`` with the job id), and run it on the engine
chosen in configuration: memory, PostgreSQL, Dramatiq or Celery.
"""

from lexigram_compat.app import TasksApp
from lexigram_compat.calls import CallOptions, TaskCall
from lexigram_compat.config import (
    BackendConfig,
    NamedBackendConfig,
    RetentionConfig,
    RetryConfig,
    SchedulerConfig,
    TaskConfig,
    WorkerConfig,
)
from lexigram_compat.dead_letters import DeadLetterQueue
from lexigram_compat.di.container import Container, Resolver
from lexigram_compat.di.markers import Inject, Named, inject
from lexigram_compat.errors import (
    BrokerUnavailableError,
    ConfigurationError,
    DependencyResolutionError,
    DuplicateTaskError,
    EngineNotFoundError,
    EnqueueOutcomeUnknownError,
    JobExpiredError,
    JobNotFoundError,
    PayloadTooLargeError,
    QueueFullError,
    SerializationError,
    TaskCancelledError,
    TaskError,
    TaskExecutionError,
    TaskNotFoundError,
    TaskQueueError,
    TaskRegistrationError,
    TaskSoftTimeoutError,
    TaskTimeoutError,
    TaskValidationError,
    UnsupportedOptionError,
    WorkerLostError,
)
from lexigram_compat.job_context import JobContext, current_job
from lexigram_compat.module import TasksModule
from lexigram_compat.queue import DeadLetter, JobInfo, JobStatus, TaskQueueProtocol
from lexigram_compat.registry import TaskRegistry, default_registry
from lexigram_compat.result import Err, Ok, Result, UnwrapError
from lexigram_compat.retry import Abort, Reject, Retry, RetryPolicy
from lexigram_compat.scheduling import Schedule, Scheduler, scheduled
from lexigram_compat.tasks import Priority, Task, task
from lexigram_compat.worker.runtime import JobFailed

__version__ = "0.1.0"
"""The installed version of lexigram-compat."""

__all__ = [
    "Abort",
    "BackendConfig",
    "BrokerUnavailableError",
    "CallOptions",
    "ConfigurationError",
    "Container",
    "DeadLetter",
    "DeadLetterQueue",
    "DependencyResolutionError",
    "DuplicateTaskError",
    "EngineNotFoundError",
    "EnqueueOutcomeUnknownError",
    "Err",
    "Inject",
    "JobContext",
    "JobExpiredError",
    "JobFailed",
    "JobInfo",
    "JobNotFoundError",
    "JobStatus",
    "Named",
    "NamedBackendConfig",
    "Ok",
    "PayloadTooLargeError",
    "Priority",
    "QueueFullError",
    "Reject",
    "Resolver",
    "Result",
    "RetentionConfig",
    "Retry",
    "RetryConfig",
    "RetryPolicy",
    "Schedule",
    "Scheduler",
    "SchedulerConfig",
    "SerializationError",
    "Task",
    "TaskCall",
    "TaskCancelledError",
    "TaskConfig",
    "TaskError",
    "TaskExecutionError",
    "TaskNotFoundError",
    "TaskQueueError",
    "TaskQueueProtocol",
    "TaskRegistrationError",
    "TaskRegistry",
    "TaskSoftTimeoutError",
    "TaskTimeoutError",
    "TaskValidationError",
    "TasksApp",
    "TasksModule",
    "UnsupportedOptionError",
    "UnwrapError",
    "WorkerConfig",
    "WorkerLostError",
    "__version__",
    "current_job",
    "default_registry",
    "inject",
    "scheduled",
    "task",
]
