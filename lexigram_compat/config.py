"""The ``tasks:`` configuration: pydantic models and loading (engine pairs: ``engine_choice``).

``TaskConfig.from_yaml("application.yaml")`` reads the ``tasks:`` section,
overlays ``application.<profile>.yaml`` when ``LEX_PROFILE`` (or ``profile=``)
names one, interpolates ``${VAR}`` / ``${VAR:default}``, then applies
``LEX_TASKS__*`` environment overrides. Precedence: environment > profile >
base file > defaults. Every problem is reported as a
:class:`~lexigram_compat.errors.ConfigurationError` naming the dotted path
(``tasks.worker.worker_count``); secrets never appear in messages or reprs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal, Self, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from lexigram_compat.config_loading import (
    Problem,
    Source,
    configuration_error,
    invalid_value,
    problem_error,
    raw_section,
    redact_text,
    redact_url,
)
from lexigram_compat.connection_urls import ConnectionKind, url_problem
from lexigram_compat.engine_choice import (
    AUTO_ENGINES,
    BACKEND_ALIASES,
    BACKEND_TYPES,
    ENGINES,
    VALID_ENGINE_PAIRS,
    BackendType,
    EngineName,
    choose,
    pair_problem,
    resolve_engine,
)
from lexigram_compat.redaction import remember_secrets_of

_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,63}")
_CONNECTION_KINDS: dict[str, ConnectionKind] = {
    "redis_url": "redis",
    "state_url": "redis",
    "amqp_url": "amqp",
    "postgres_dsn": "postgres",
}
_Config = TypeVar("_Config", bound="TaskConfig")


def _check_name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        size = f"{len(value)} characters long; " if len(value) > 63 else ""
        raise invalid_value(f"invalid {what}: {size}use 1-63 characters from A-Z a-z 0-9 _ . : -", value)
    return value


class _Section(BaseModel):
    # extra="forbid": a typo'd key must fail loudly rather than fall back to a default.
    # coerce_numbers_to_str: a queue name like 2024 from YAML or the environment is a str.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, coerce_numbers_to_str=True)


class BackendConfig(_Section):
    """Where jobs are stored: ``tasks.backend``.

    Attributes:
        type: ``memory``, ``redis``, ``amqp`` or ``postgres`` (``rabbitmq`` is
            accepted and stored as ``amqp``).
        redis_url: Redis URL, used when ``type`` is ``redis``.
        amqp_url: AMQP URL, used when ``type`` is ``amqp``.
        postgres_dsn: PostgreSQL DSN; required when ``type`` is ``postgres``.
        state_url: Redis URL of a job-state store, for brokers that keep no job
            records (RabbitMQ): enables ``get_job``, cancel and idempotency keys.
        queue_name: The default queue: 1-63 characters of ``[A-Za-z0-9_.:-]``.
    """

    type: BackendType = "memory"
    redis_url: SecretStr = SecretStr("redis://localhost:6379")
    amqp_url: SecretStr = SecretStr("amqp://guest:guest@localhost:5672//")
    postgres_dsn: SecretStr | None = None
    state_url: SecretStr | None = None
    queue_name: str = "tasks"

    @field_validator("type", mode="before")
    @classmethod
    def _normalise_type(cls, value: object) -> str:
        return choose(value, BACKEND_TYPES, "backend type")

    @field_validator("queue_name")
    @classmethod
    def _check_queue_name(cls, value: str) -> str:
        return _check_name(value, "queue name")

    @field_validator("redis_url", "amqp_url", "postgres_dsn", "state_url", mode="before")
    @classmethod
    def _check_connection(cls, value: object, info: ValidationInfo) -> object:
        # Checked here, not when a driver first parses it; the value shown is redacted.
        text = value.get_secret_value() if isinstance(value, SecretStr) else value
        if not isinstance(text, str) or (not text and info.field_name in ("postgres_dsn", "state_url")):
            return value  # an empty DSN is "required when type is 'postgres'", said once
        kind = _CONNECTION_KINDS[info.field_name or ""]
        if (problem := url_problem(kind, text)) is not None:
            raise invalid_value(problem, text)
        remember_secrets_of(text)
        return value

    @model_validator(mode="after")
    def _require_dsn(self) -> Self:
        if self.type == "postgres" and not (self.postgres_dsn and self.postgres_dsn.get_secret_value()):
            message = "required when type is 'postgres' (e.g. postgresql://host/db)"
            raise problem_error([(("postgres_dsn",), message)])
        return self


class NamedBackendConfig(BackendConfig):
    """One entry of ``tasks.backends``: a named queue on its own broker or engine.

    Attributes:
        name: The key used with ``Named("...")``; same character rules as queue names.
        primary: Whether this entry is the default queue (at most one may be).
        engine: The engine for this entry; ``None`` inherits ``tasks.engine``,
            resolved against this entry's own ``type``.
    """

    name: str
    primary: bool = False
    engine: EngineName | None = None

    @field_validator("name")
    @classmethod
    def _check_backend_name(cls, value: str) -> str:
        return _check_name(value, "backend name")

    @field_validator("engine", mode="before")
    @classmethod
    def _normalise_engine(cls, value: object) -> str | None:
        return None if value is None else choose(value, ENGINES, "engine")


class WorkerConfig(_Section):
    """How workers run: ``tasks.worker``.

    Attributes:
        worker_count: Worker processes (the memory backend allows only 1).
        max_concurrent_tasks: Jobs run at once per process.
        default_timeout: Seconds an attempt may run when the task sets no timeout.
        shutdown_timeout: Seconds running jobs get to finish on shutdown.
        poll_interval: Seconds an idle worker waits between polls when no
            wake-up notification arrives.
        lease_seconds: A job whose worker stops heartbeating this long is rescued.
        heartbeat_interval: Seconds between heartbeats; ``None`` means lease/3.
        queues: The queue names this worker consumes; ``None`` means all.
    """

    worker_count: int = Field(default=1, ge=1)
    max_concurrent_tasks: int = Field(default=10, ge=1)
    default_timeout: float = Field(default=300.0, gt=0)
    shutdown_timeout: float = Field(default=30.0, ge=0)
    poll_interval: float = Field(default=1.0, gt=0)
    lease_seconds: float = Field(default=30.0, gt=0)
    heartbeat_interval: float | None = Field(default=None, gt=0)
    queues: list[str] | None = None

    @field_validator("queues")
    @classmethod
    def _check_queues(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise invalid_value("an empty list consumes nothing; omit it (or use null) for all queues", value)
        for name in value or ():
            _check_name(name, "queue name")
        return value

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> Self:
        if self.heartbeat_interval is not None and self.heartbeat_interval >= self.lease_seconds:
            message = (
                f"must be shorter than lease_seconds ({self.lease_seconds:g}), or a live job is "
                f"rescued between heartbeats (got {self.heartbeat_interval:g})"
            )
            raise problem_error([(("heartbeat_interval",), message)])
        return self

    @property
    def effective_heartbeat_interval(self) -> float:
        """``heartbeat_interval``, or a third of ``lease_seconds`` when unset."""
        return self.heartbeat_interval if self.heartbeat_interval is not None else self.lease_seconds / 3


class SchedulerConfig(_Section):
    """The ``@scheduled`` loop: ``tasks.scheduler``.

    Attributes:
        enabled: Whether schedules fire.
        check_interval: Seconds between checks for due schedules.
        timezone: IANA zone name that cron expressions are read in.
    """

    enabled: bool = True
    check_interval: float = Field(default=1.0, gt=0)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise invalid_value(
                "unknown time zone; use an IANA name such as 'Europe/Berlin' or 'UTC'", value
            ) from None
        return value


class RetryConfig(_Section):
    """The default retry policy: ``tasks.retry`` (see SPEC §2.2 for the formula).

    Attributes:
        max_attempts: Total attempts, the first included.
        base_delay: Seconds before the first retry.
        backoff_factor: Multiplier per further retry.
        max_delay: Upper bound on one delay.
        jitter: ``True`` for delays uniform in ``[d/2, d]``, a float ``j`` in
            ``(0, 1]`` for ``[(1-j)d, d]``, ``False`` for none.
    """

    max_attempts: int = Field(default=3, ge=1)
    base_delay: float = Field(default=1.0, ge=0)
    backoff_factor: float = Field(default=2.0, ge=1)
    max_delay: float = Field(default=60.0, ge=0)
    jitter: bool | float = True

    @field_validator("jitter", mode="before")
    @classmethod
    def _check_jitter(cls, value: object) -> bool | float:
        # Decided here rather than by the union, so that true stays a bool and
        # 1.0 stays a float, and a bad value gets one clear message.
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        if isinstance(value, bool):
            return value
        try:
            fraction = float(value) if isinstance(value, int | float | str) else None
        except ValueError:
            fraction = None
        if fraction is None or not 0 < fraction <= 1:
            raise invalid_value("must be true, false, or a fraction in (0, 1]", value)
        return fraction


class RetentionConfig(_Section):
    """How long finished jobs are kept: ``tasks.retention``.

    Attributes:
        completed_seconds: Completed jobs stay visible this long; 0 deletes at once.
        dead_letter_seconds: Dead letters are kept this long; ``None`` keeps
            them until purged.
        dead_letter_max: At most this many dead letters; the engine drops (and
            logs) the oldest beyond it. ``None`` means no limit.
    """

    completed_seconds: float = Field(default=3600, ge=0)
    dead_letter_seconds: float | None = Field(default=None, ge=0)
    dead_letter_max: int | None = Field(default=None, ge=1)


class ObservabilityConfig(_Section):
    """Metrics: ``tasks.observability``.

    Attributes:
        metrics: Count job events in Prometheus metrics when ``prometheus-client``
            is installed (the ``metrics`` extra); producers count enqueues in the
            application's own registry.
        metrics_port: Worker processes (``lexigram-compat worker``, ``dramatiq``,
            ``celery worker``) serve ``/metrics`` on this port, summed over all
            their processes; ``None`` serves nothing. ``$LEXIGRAM_METRICS_PORT``
            and ``worker --metrics-port`` override it.
        metrics_host: The address that port binds.
    """

    metrics: bool = True
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"


class LoggingConfig(_Section):
    """Job log lines: ``tasks.logging``.

    Attributes:
        format: ``text`` (one readable line) or ``json`` (one JSON object per line,
            in every engine's worker process; ``--log-format`` overrides it).
    """

    format: Literal["text", "json"] = "text"


class TaskConfig(_Section):
    """The whole ``tasks:`` section.

    Attributes:
        enabled: Whether the task system starts.
        engine: ``auto``, ``native``, ``dramatiq`` or ``celery``.
        backend: The primary backend.
        worker: Worker settings.
        scheduler: Scheduler settings.
        retry: The default retry policy.
        retention: How long finished jobs and dead letters are kept.
        max_payload_bytes: The largest serialised job accepted by ``enqueue``.
        backends: Named queues, each optionally on its own broker or engine.
        observability: Prometheus metrics.
        logging: The format of job log lines.
        extra: Engine-specific settings passed through untouched.
    """

    enabled: bool = True
    engine: EngineName = "auto"
    backend: BackendConfig = Field(default_factory=BackendConfig)
    worker: WorkerConfig = Field(default_factory=WorkerConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    max_payload_bytes: int = Field(default=1_048_576, gt=0)
    backends: list[NamedBackendConfig] = Field(default_factory=list)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    # Hidden from repr: engine options may carry credentials we cannot recognise.
    extra: dict[str, Any] = Field(default_factory=dict, repr=False)

    @field_validator("engine", mode="before")
    @classmethod
    def _normalise_engine(cls, value: object) -> str:
        return choose(value, ENGINES, "engine")

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        found: list[Problem] = []
        if message := pair_problem(self.engine, self.backend.type):
            found.append((("engine",), message))
        seen: dict[str, int] = {}
        for index, entry in enumerate(self.backends):
            note = "" if entry.engine else " (inherited from tasks.engine)"
            if message := pair_problem(entry.engine or self.engine, entry.type, note):
                found.append((("backends", index, "engine"), message))
            if (first := seen.setdefault(entry.name, index)) != index:
                message = f"duplicate backend name {entry.name!r} (also used by tasks.backends[{first}])"
                found.append((("backends", index, "name"), message))
        primaries = [entry.name for entry in self.backends if entry.primary]
        if len(primaries) > 1:
            found.append((("backends",), f"at most one entry may be primary (got {primaries})"))
        in_memory = [f"tasks.backends[{i}]" for i, b in enumerate(self.backends) if b.type == "memory"]
        if self.backend.type == "memory":
            in_memory.insert(0, "tasks.backend")
        if in_memory and self.worker.worker_count > 1:
            message = (
                f"must be 1: the memory backend lives in one process and {', '.join(in_memory)} "
                f"uses it (got {self.worker.worker_count})"
            )
            found.append((("worker", "worker_count"), message))
        if found:
            raise problem_error(found)
        return self

    @property
    def resolved_engine(self) -> str:
        """The concrete engine for the primary backend (``auto`` resolved)."""
        return resolve_engine(self.engine, self.backend.type)

    def engine_for(self, backend: BackendConfig) -> str:
        """The concrete engine for ``backend``: its own ``engine``, else ``tasks.engine``."""
        own = backend.engine if isinstance(backend, NamedBackendConfig) else None
        return resolve_engine(own or self.engine, backend.type)

    @classmethod
    def from_yaml(
        cls,
        path: str | os.PathLike[str],
        *,
        profile: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        """Load the ``tasks:`` section of a YAML file (see the module docstring).

        Args:
            path: The base file, usually ``application.yaml``.
            profile: Overlay ``application.<profile>.yaml``; defaults to ``LEX_PROFILE``.
            environ: Variables for ``${VAR}`` and ``LEX_TASKS__*``; defaults to ``os.environ``.

        Raises:
            ConfigurationError: Any problem with the files, variables or values.
        """
        return _load(cls, path, profile=profile, environ=environ)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, environ: Mapping[str, str] | None = None) -> Self:
        """Build from a dict shaped like the YAML file, with a top-level ``tasks`` key.

        A dict without a ``tasks`` key is taken to be the section itself.
        Interpolation and ``LEX_TASKS__*`` overrides apply as for files.

        Raises:
            ConfigurationError: Any problem with the variables or values.
        """
        return _load(cls, data, profile=None, environ=environ)


def load_config(
    source: Source = None,
    *,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> TaskConfig:
    """Load a :class:`TaskConfig` from a YAML path, a dict, or only defaults and environment.

    Args:
        source: A YAML file path (as :meth:`TaskConfig.from_yaml`), a dict (as
            :meth:`TaskConfig.from_dict`), or ``None`` for defaults plus
            ``LEX_TASKS__*`` overrides.
        profile: Profile overlay; only valid with a file.
        environ: Defaults to ``os.environ``.

    Raises:
        ConfigurationError: Any problem, with every invalid key listed.
    """
    return _load(TaskConfig, source, profile=profile, environ=environ)


def _load(
    model: type[_Config],
    source: Source,
    *,
    profile: str | None,
    environ: Mapping[str, str] | None,
) -> _Config:
    env = os.environ if environ is None else environ
    section, origin = raw_section(source, profile=profile, environ=env)
    try:
        return model.model_validate(section)
    except ValidationError as exc:
        # "from None": the ValidationError's own text shows raw inputs, secrets included.
        raise configuration_error(exc, origin, model) from None


__all__ = [
    "AUTO_ENGINES",
    "BACKEND_ALIASES",
    "BACKEND_TYPES",
    "ENGINES",
    "VALID_ENGINE_PAIRS",
    "BackendConfig",
    "BackendType",
    "EngineName",
    "LoggingConfig",
    "NamedBackendConfig",
    "ObservabilityConfig",
    "RetentionConfig",
    "RetryConfig",
    "SchedulerConfig",
    "TaskConfig",
    "WorkerConfig",
    "load_config",
    "redact_text",
    "redact_url",
    "resolve_engine",
]
