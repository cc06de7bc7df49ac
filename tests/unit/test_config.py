"""Tests for the ``tasks:`` configuration model and its loading."""

from __future__ import annotations

import textwrap
import traceback
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from lexigram_compat.config import (
    BackendConfig,
    NamedBackendConfig,
    RetryConfig,
    TaskConfig,
    WorkerConfig,
    load_config,
    redact_text,
    redact_url,
    resolve_engine,
)
from lexigram_compat.config_loading import parse_env_value
from lexigram_compat.errors import ConfigurationError, EngineNotFoundError

PASSWORD = "s3cr3t-Hunter2"
VALID_PAIRS_TEXT = "native+memory, native+postgres, dramatiq+redis, dramatiq+amqp, celery+redis, celery+amqp"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def config_error(data: dict[str, Any], environ: dict[str, str] | None = None) -> ConfigurationError:
    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_dict(data, environ=environ or {})
    return info.value


# --- Defaults -----------------------------------------------------------------


def test_defaults() -> None:
    config = load_config(environ={})

    assert config == TaskConfig()
    assert config.enabled is True
    assert config.engine == "auto"
    assert config.resolved_engine == "native"
    assert config.backend.type == "memory"
    assert config.backend.redis_url.get_secret_value() == "redis://localhost:6379"
    assert config.backend.amqp_url.get_secret_value() == "amqp://guest:guest@localhost:5672//"
    assert config.backend.postgres_dsn is None
    assert config.backend.queue_name == "tasks"
    worker = config.worker
    assert (worker.worker_count, worker.max_concurrent_tasks) == (1, 10)
    assert (worker.default_timeout, worker.shutdown_timeout) == (300.0, 30.0)
    assert (worker.poll_interval, worker.lease_seconds) == (1.0, 30.0)
    assert worker.heartbeat_interval is None
    assert worker.effective_heartbeat_interval == pytest.approx(10.0)
    assert worker.queues is None
    assert config.scheduler.enabled is True
    assert config.scheduler.check_interval == 1.0
    assert config.scheduler.timezone == "UTC"
    retry = config.retry
    assert (retry.max_attempts, retry.base_delay, retry.backoff_factor) == (3, 1.0, 2.0)
    assert retry.max_delay == 60.0
    assert retry.jitter is True
    assert config.retention.completed_seconds == 3600
    assert config.retention.dead_letter_seconds is None
    assert config.retention.dead_letter_max is None
    assert config.max_payload_bytes == 1_048_576
    assert config.backends == []
    assert config.extra == {}


def test_yaml_without_tasks_section_gives_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "application.yaml", "database:\n  url: postgresql://h/db\n")

    assert TaskConfig.from_yaml(path, environ={}) == TaskConfig()


def test_empty_yaml_and_null_section_give_defaults(tmp_path: Path) -> None:
    empty = write(tmp_path, "application.yaml", "")
    null_section = write(tmp_path, "other.yaml", "tasks:\n")

    assert TaskConfig.from_yaml(empty, environ={}) == TaskConfig()
    assert TaskConfig.from_yaml(null_section, environ={}) == TaskConfig()


def test_yaml_values_are_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "application.yaml",
        """
        tasks:
          engine: celery
          backend: {type: redis, queue_name: jobs}
          worker: {worker_count: 4, heartbeat_interval: 5}
          scheduler: {timezone: Europe/Berlin}
          retry: {jitter: 0.25}
          retention: {completed_seconds: 0, dead_letter_max: 100}
          extra: {broker_pool_limit: 7}
        """,
    )

    config = TaskConfig.from_yaml(str(path), environ={})

    assert config.resolved_engine == "celery"
    assert config.backend.queue_name == "jobs"
    assert config.worker.worker_count == 4
    assert config.worker.effective_heartbeat_interval == 5
    assert config.scheduler.timezone == "Europe/Berlin"
    assert config.retry.jitter == 0.25
    assert config.retention.completed_seconds == 0
    assert config.retention.dead_letter_max == 100
    assert config.extra == {"broker_pool_limit": 7}


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"

    with pytest.raises(ConfigurationError, match="not found") as info:
        TaskConfig.from_yaml(missing, environ={})

    assert str(missing) in str(info.value)


def test_invalid_yaml_names_path_and_line_without_quoting_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "application.yaml",
        f"tasks:\n  backend:\n    redis_url: redis://:{PASSWORD}@h\n   bad: [unclosed\n",
    )

    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_yaml(path, environ={})

    message = str(info.value)
    assert str(path) in message
    assert "line 4" in message
    assert PASSWORD not in message


def test_tasks_section_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "application.yaml", "tasks: [1, 2]\n")

    with pytest.raises(ConfigurationError, match="'tasks' must be a mapping"):
        TaskConfig.from_yaml(path, environ={})


# --- from_dict shapes ------------------------------------------------------------


def test_from_dict_accepts_file_shape_and_bare_section() -> None:
    file_shaped = TaskConfig.from_dict(
        {"tasks": {"backend": {"type": "redis"}}, "database": {"url": "x"}}, environ={}
    )
    bare = TaskConfig.from_dict({"backend": {"type": "redis"}}, environ={})

    assert file_shaped.backend.type == "redis"
    assert bare == file_shaped
    assert TaskConfig.from_dict({"tasks": None}, environ={}) == TaskConfig()


def test_from_dict_does_not_mutate_its_input() -> None:
    data: dict[str, Any] = {"tasks": {"backends": [{"name": "emails", "type": "redis"}]}}
    environ = {
        "LEX_TASKS__BACKENDS__0__QUEUE_NAME": "mail",
        "LEX_TASKS__WORKER__POLL_INTERVAL": "2",
    }

    config = TaskConfig.from_dict(data, environ=environ)

    assert config.backends[0].queue_name == "mail"
    assert data == {"tasks": {"backends": [{"name": "emails", "type": "redis"}]}}


def test_load_config_takes_a_path_a_dict_or_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "application.yaml", "tasks:\n  backend: {type: amqp}\n")
    environ = {"LEX_TASKS__SCHEDULER__ENABLED": "false"}

    assert load_config(path, environ=environ).backend.type == "amqp"
    assert load_config({"backend": {"type": "redis"}}, environ={}).backend.type == "redis"
    assert load_config(environ=environ).scheduler.enabled is False


def test_frozen() -> None:
    config = TaskConfig()

    with pytest.raises(ValidationError):
        config.enabled = False  # type: ignore[misc]


# --- Validation rules ----------------------------------------------------------


def test_unknown_backend_type_lists_the_valid_ones() -> None:
    message = str(config_error({"backend": {"type": "mysql"}}))

    assert "tasks.backend.type" in message
    assert "memory, redis, amqp, postgres" in message
    assert "'mysql'" in message


@pytest.mark.parametrize("alias", ["rabbitmq", "RabbitMQ", "AMQP"])
def test_rabbitmq_alias_and_case_are_normalised(alias: str) -> None:
    config = TaskConfig.from_dict({"backend": {"type": alias}}, environ={})

    assert config.backend.type == "amqp"
    assert config.resolved_engine == "dramatiq"


def test_engine_is_case_insensitive() -> None:
    config = TaskConfig.from_dict({"engine": "Celery", "backend": {"type": "redis"}}, environ={})

    assert config.engine == "celery"
    assert config.resolved_engine == "celery"


def test_negative_worker_count() -> None:
    message = str(config_error({"backend": {"type": "redis"}, "worker": {"worker_count": -1}}))

    assert "tasks.worker.worker_count: input should be greater than or equal to 1" in message
    assert "(got -1)" in message


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("worker", "max_concurrent_tasks", 0),
        ("worker", "default_timeout", 0),
        ("worker", "shutdown_timeout", -1),
        ("worker", "poll_interval", 0),
        ("worker", "lease_seconds", 0),
        ("worker", "heartbeat_interval", 0),
        ("scheduler", "check_interval", 0),
        ("retry", "max_attempts", 0),
        ("retry", "base_delay", -0.5),
        ("retry", "backoff_factor", 0.5),
        ("retry", "max_delay", -1),
        ("retention", "completed_seconds", -1),
        ("retention", "dead_letter_seconds", -1),
        ("retention", "dead_letter_max", 0),
    ],
)
def test_numeric_bounds(section: str, key: str, value: float) -> None:
    message = str(config_error({section: {key: value}}))

    assert f"tasks.{section}.{key}: input should be greater than" in message
    assert f"(got {value!r})" in message


def test_max_payload_bytes_must_be_positive() -> None:
    assert "tasks.max_payload_bytes" in str(config_error({"max_payload_bytes": 0}))


def test_infinite_timeout_is_rejected() -> None:
    assert "tasks.worker.default_timeout" in str(config_error({"worker": {"default_timeout": float("inf")}}))


def test_heartbeat_must_be_shorter_than_the_lease() -> None:
    message = str(config_error({"worker": {"lease_seconds": 10, "heartbeat_interval": 10}}))

    assert "tasks.worker.heartbeat_interval: must be shorter than lease_seconds (10)" in message
    assert WorkerConfig(lease_seconds=10, heartbeat_interval=4).effective_heartbeat_interval == 4


def test_typo_engine_gets_did_you_mean() -> None:
    message = str(config_error({"engine": "dramatic"}))

    assert "tasks.engine: unknown engine; did you mean 'dramatiq'?" in message
    assert "auto, native, dramatiq, celery" in message
    assert "(got 'dramatic')" in message


def test_typo_key_gets_did_you_mean() -> None:
    message = str(config_error({"worker": {"worker_cont": 3}}))

    assert "tasks.worker.worker_cont: unknown key; did you mean 'worker_count'?" in message


def test_impossible_pair_lists_the_valid_pairs() -> None:
    message = str(
        config_error(
            {
                "engine": "celery",
                "backend": {"type": "postgres", "postgres_dsn": "postgresql://h/d"},
            }
        )
    )

    assert "tasks.engine: engine 'celery' cannot run on backend type 'postgres'" in message
    assert VALID_PAIRS_TEXT in message


def test_named_backend_inherits_the_engine_and_is_checked_with_its_own_type() -> None:
    data = {
        "engine": "celery",
        "backend": {"type": "redis"},
        "backends": [{"name": "reports", "type": "postgres", "postgres_dsn": "postgresql://h/d"}],
    }

    message = str(config_error(data))

    assert "tasks.backends[0].engine: engine 'celery' (inherited from tasks.engine)" in message
    assert VALID_PAIRS_TEXT in message


def test_named_backend_with_its_own_engine() -> None:
    config = TaskConfig.from_dict(
        {
            "backend": {"type": "postgres", "postgres_dsn": "postgresql://h/d"},
            "backends": [
                {"name": "emails", "type": "redis", "engine": "Celery", "primary": True},
                {"name": "reports", "type": "rabbitmq"},
            ],
        },
        environ={},
    )

    assert config.resolved_engine == "native"
    assert [config.engine_for(b) for b in config.backends] == ["celery", "dramatiq"]
    assert config.engine_for(config.backend) == "native"
    assert config.backends[1].type == "amqp"


def test_memory_backend_allows_only_one_worker_process() -> None:
    message = str(config_error({"worker": {"worker_count": 2}}))

    assert "tasks.worker.worker_count: must be 1" in message
    assert "memory" in message
    assert "(got 2)" in message
    redis = TaskConfig.from_dict({"backend": {"type": "redis"}, "worker": {"worker_count": 2}}, environ={})
    assert redis.worker.worker_count == 2


def test_named_memory_backend_also_allows_only_one_worker_process() -> None:
    data = {
        "backend": {"type": "redis"},
        "worker": {"worker_count": 3},
        "backends": [{"name": "local"}],
    }

    message = str(config_error(data))

    assert "tasks.worker.worker_count: must be 1" in message
    assert "tasks.backends[0]" in message


@pytest.mark.parametrize("dsn", [None, ""])
def test_postgres_requires_a_dsn(dsn: str | None) -> None:
    message = str(config_error({"backend": {"type": "postgres", "postgres_dsn": dsn}}))

    assert "tasks.backend.postgres_dsn: required when type is 'postgres'" in message


def test_bad_timezone_names_it_and_suggests_an_example() -> None:
    message = str(config_error({"scheduler": {"timezone": "Mars/Olympus"}}))

    assert "tasks.scheduler.timezone" in message
    assert "'Mars/Olympus'" in message
    assert "Europe/Berlin" in message


@pytest.mark.parametrize("jitter", [1.5, 0, -0.1, "lots"])
def test_bad_jitter(jitter: object) -> None:
    message = str(config_error({"retry": {"jitter": jitter}}))

    assert "tasks.retry.jitter: must be true, false, or a fraction in (0, 1]" in message
    assert f"(got {jitter!r})" in message


@pytest.mark.parametrize(
    ("given", "expected"),
    [(True, True), (False, False), ("true", True), (1.0, 1.0), (1, 1.0), (0.5, 0.5), ("0.2", 0.2)],
)
def test_jitter_keeps_bools_as_bools(given: object, expected: bool | float) -> None:
    jitter = TaskConfig.from_dict({"retry": {"jitter": given}}, environ={}).retry.jitter

    assert jitter == expected
    assert type(jitter) is type(expected)


def test_duplicate_backend_names() -> None:
    message = str(
        config_error(
            {
                "backend": {"type": "redis"},
                "backends": [
                    {"name": "emails", "type": "redis"},
                    {"name": "emails", "type": "redis"},
                ],
            }
        )
    )

    assert "tasks.backends[1].name: duplicate backend name 'emails'" in message
    assert "tasks.backends[0]" in message


def test_at_most_one_primary_backend() -> None:
    entries = [{"name": n, "type": "redis", "primary": True} for n in ("a", "b")]

    message = str(config_error({"backend": {"type": "redis"}, "backends": entries}))

    assert "tasks.backends: at most one entry may be primary (got ['a', 'b'])" in message


def test_named_backend_requires_a_name() -> None:
    message = str(config_error({"backends": [{"type": "redis"}]}))

    assert "tasks.backends[0].name: required" in message


@pytest.mark.parametrize("name", ["a;b", "x" * 64, "", "has space", "ümlaut"])
def test_bad_queue_name(name: str) -> None:
    message = str(config_error({"backend": {"queue_name": name}}))

    assert "tasks.backend.queue_name: invalid queue name" in message
    assert f"(got {name!r})" in message


def test_queue_name_of_64_characters_says_so() -> None:
    assert "64 characters long" in str(config_error({"backend": {"queue_name": "q" * 64}}))


def test_queue_name_limits_accepted() -> None:
    name = "Aa0_.:-" + "q" * 56

    assert len(name) == 63
    assert BackendConfig(queue_name=name).queue_name == name


def test_backend_name_and_worker_queues_use_the_queue_name_rules() -> None:
    message = str(
        config_error(
            {
                "backends": [{"name": "bad name"}],
                "worker": {"queues": ["ok", "not;ok"]},
            }
        )
    )

    assert "tasks.backends[0].name: invalid backend name" in message
    assert "tasks.worker.queues: invalid queue name" in message
    assert "'not;ok'" in message


def test_empty_worker_queue_list_is_rejected() -> None:
    assert "tasks.worker.queues: an empty list" in str(config_error({"worker": {"queues": []}}))


def test_every_problem_is_listed_at_once() -> None:
    error = config_error(
        {"engine": "dramatic", "worker": {"worker_count": 0}, "scheduler": {"timezone": "X/Y"}}
    )

    assert "(3 problems)" in error.message
    assert len(error.details["problems"]) == 3
    assert error.hint is not None


def test_no_raw_validation_error_escapes() -> None:
    error = config_error({"worker": {"worker_count": "many"}})

    assert not isinstance(error, ValidationError)
    assert error.__cause__ is None
    assert error.__suppress_context__ is True
    assert "tasks.worker.worker_count: input should be a valid integer" in str(error)


# --- resolve_engine ------------------------------------------------------------


@pytest.mark.parametrize(
    ("engine", "backend_type", "expected"),
    [
        ("auto", "memory", "native"),
        ("auto", "postgres", "native"),
        ("auto", "redis", "dramatiq"),
        ("auto", "amqp", "dramatiq"),
        ("AUTO", "rabbitmq", "dramatiq"),
        ("native", "memory", "native"),
        ("native", "postgres", "native"),
        ("dramatiq", "redis", "dramatiq"),
        ("dramatiq", "amqp", "dramatiq"),
        ("celery", "redis", "celery"),
        ("celery", "rabbitmq", "celery"),
    ],
)
def test_resolve_engine(engine: str, backend_type: str, expected: str) -> None:
    assert resolve_engine(engine, backend_type) == expected


@pytest.mark.parametrize(
    ("engine", "backend_type"),
    [("celery", "postgres"), ("celery", "memory"), ("native", "redis"), ("dramatiq", "postgres")],
)
def test_resolve_engine_rejects_impossible_pairs(engine: str, backend_type: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve_engine(engine, backend_type)

    assert VALID_PAIRS_TEXT in str(info.value)
    assert not isinstance(info.value, EngineNotFoundError)


def test_resolve_engine_unknown_names() -> None:
    with pytest.raises(EngineNotFoundError, match="did you mean 'celery'"):
        resolve_engine("celeri", "redis")
    with pytest.raises(ConfigurationError, match="memory, redis, amqp, postgres"):
        resolve_engine("auto", "sqs")


# --- Interpolation -------------------------------------------------------------


def test_interpolation_default_may_contain_colons(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "application.yaml",
        """
        tasks:
          backend:
            type: redis
            redis_url: "${REDIS_URL:redis://localhost:6379/0}"
            amqp_url: "${AMQP_URL:amqp://guest:guest@localhost:5672//}"
        """,
    )

    config = TaskConfig.from_yaml(path, environ={})

    assert config.backend.redis_url.get_secret_value() == "redis://localhost:6379/0"
    assert config.backend.amqp_url.get_secret_value() == "amqp://guest:guest@localhost:5672//"


def test_interpolation_uses_the_variable_when_set() -> None:
    config = TaskConfig.from_dict(
        {"backend": {"redis_url": "${REDIS_URL:redis://localhost:6379}"}},
        environ={"REDIS_URL": "redis://cache:6380/2"},
    )

    assert config.backend.redis_url.get_secret_value() == "redis://cache:6380/2"


def test_interpolation_inside_strings_lists_and_empty_default() -> None:
    config = TaskConfig.from_dict(
        {
            "backend": {"type": "redis", "queue_name": "${APP:shop}-${ENV}.jobs"},
            "worker": {"queues": ["${Q1:emails}", "reports"], "worker_count": "${WORKERS:4}"},
            "extra": {"token": "${TOKEN:}"},
        },
        environ={"ENV": "prod"},
    )

    assert config.backend.queue_name == "shop-prod.jobs"
    assert config.worker.queues == ["emails", "reports"]
    assert config.worker.worker_count == 4
    assert config.extra == {"token": ""}


def test_missing_required_variable_names_it_and_where(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "application.yaml",
        """
        tasks:
          backend:
            type: redis
            redis_url: "${REDIS_URL}"
          backends:
            - {name: emails, type: redis, queue_name: "${EMAIL_QUEUE}"}
        """,
    )

    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_yaml(path, environ={})

    message = str(info.value)
    assert "'REDIS_URL' (used at tasks.backend.redis_url)" in message
    assert "'EMAIL_QUEUE' (used at tasks.backends[0].queue_name)" in message


def test_other_sections_are_not_interpolated(tmp_path: Path) -> None:
    path = write(tmp_path, "application.yaml", "database:\n  url: ${NOT_SET}\ntasks: {}\n")

    assert TaskConfig.from_yaml(path, environ={}) == TaskConfig()


def test_env_override_values_are_not_interpolated() -> None:
    config = TaskConfig.from_dict({}, environ={"LEX_TASKS__EXTRA__LABEL": "${NOT_SET}"})

    assert config.extra == {"label": "${NOT_SET}"}


# --- Environment overrides ------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8", 8),
        ("-3", -3),
        ("1.5", 1.5),
        ("1e3", 1000.0),
        ("true", True),
        ("FALSE", False),
        ("inf", "inf"),
        ("1_000", "1_000"),
        ("redis://h:6379", "redis://h:6379"),
        ("", ""),
    ],
)
def test_parse_env_value(raw: str, expected: object) -> None:
    parsed = parse_env_value(raw)

    assert parsed == expected
    assert type(parsed) is type(expected)


def test_env_overrides_nested_keys() -> None:
    environ = {
        "LEX_TASKS__BACKEND__TYPE": "redis",
        "LEX_TASKS__WORKER__WORKER_COUNT": "8",
        "LEX_TASKS__SCHEDULER__ENABLED": "false",
        "LEX_TASKS__SCHEDULER__TIMEZONE": "Europe/Berlin",
        "LEX_TASKS__RETRY__JITTER": "0.5",
        "LEX_TASKS__BACKEND__QUEUE_NAME": "2024",
        "LEX_OTHER__WORKER__WORKER_COUNT": "99",
    }

    config = TaskConfig.from_dict({"worker": {"worker_count": 2}}, environ=environ)

    assert config.backend.type == "redis"
    assert config.worker.worker_count == 8
    assert config.scheduler.enabled is False
    assert config.scheduler.timezone == "Europe/Berlin"
    assert config.retry.jitter == 0.5
    assert config.backend.queue_name == "2024"


def test_env_overrides_index_into_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "application.yaml",
        """
        tasks:
          backend: {type: redis}
          backends:
            - {name: emails, type: redis, queue_name: emails}
        """,
    )
    environ = {
        "LEX_TASKS__BACKENDS__0__QUEUE_NAME": "mail",
        "LEX_TASKS__BACKENDS__1__NAME": "reports",
        "LEX_TASKS__BACKENDS__1__TYPE": "redis",
        "LEX_TASKS__WORKER__QUEUES__0": "mail",
    }

    config = TaskConfig.from_yaml(path, environ=environ)

    assert [(b.name, b.queue_name) for b in config.backends] == [
        ("emails", "mail"),
        ("reports", "tasks"),
    ]
    assert config.backends[1].type == "redis"
    assert config.worker.queues == ["mail"]


def test_env_override_index_past_the_end_is_an_error() -> None:
    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_dict({}, environ={"LEX_TASKS__BACKENDS__2__NAME": "x"})

    assert "LEX_TASKS__BACKENDS__2__NAME" in str(info.value)
    assert "not a valid index" in str(info.value)


def test_malformed_override_variable() -> None:
    with pytest.raises(ConfigurationError, match="LEX_TASKS__WORKER____COUNT"):
        TaskConfig.from_dict({}, environ={"LEX_TASKS__WORKER____COUNT": "2"})


def test_invalid_override_value_is_reported_at_its_path() -> None:
    message = str(config_error({}, environ={"LEX_TASKS__WORKER__WORKER_COUNT": "zero"}))

    assert "tasks.worker.worker_count: input should be a valid integer" in message
    assert "(got 'zero')" in message


def test_env_override_typo_is_an_unknown_key() -> None:
    message = str(config_error({}, environ={"LEX_TASKS__WORKER__WORKERS": "2"}))

    assert "tasks.worker.workers: unknown key" in message


# --- Profiles and precedence ---------------------------------------------------


@pytest.fixture
def profiled(tmp_path: Path) -> Path:
    base = write(
        tmp_path,
        "application.yaml",
        """
        tasks:
          backend: {type: redis, queue_name: base}
          worker: {worker_count: 2, max_concurrent_tasks: 5}
          scheduler: {timezone: Europe/Paris}
        """,
    )
    write(
        tmp_path,
        "application.prod.yaml",
        """
        tasks:
          backend: {queue_name: prod}
          worker: {worker_count: 4, queues: [a, b]}
        """,
    )
    return base


def test_profile_overlays_the_base_file(profiled: Path) -> None:
    config = TaskConfig.from_yaml(profiled, profile="prod", environ={})

    assert config.backend.type == "redis"  # from base, kept by the deep merge
    assert config.backend.queue_name == "prod"
    assert config.worker.worker_count == 4
    assert config.worker.max_concurrent_tasks == 5
    assert config.worker.queues == ["a", "b"]
    assert config.scheduler.timezone == "Europe/Paris"


def test_lex_profile_selects_the_profile(profiled: Path) -> None:
    config = TaskConfig.from_yaml(profiled, environ={"LEX_PROFILE": "prod"})

    assert config.backend.queue_name == "prod"


def test_profile_argument_beats_lex_profile(profiled: Path) -> None:
    write(profiled.parent, "application.dev.yaml", "tasks:\n  backend: {queue_name: dev}\n")

    config = TaskConfig.from_yaml(profiled, profile="dev", environ={"LEX_PROFILE": "prod"})

    assert config.backend.queue_name == "dev"


def test_profile_lists_replace_base_lists(tmp_path: Path) -> None:
    base = write(tmp_path, "application.yaml", "tasks:\n  worker: {queues: [a, b, c]}\n")
    write(tmp_path, "application.prod.yaml", "tasks:\n  worker: {queues: [z]}\n")

    assert TaskConfig.from_yaml(base, profile="prod", environ={}).worker.queues == ["z"]


def test_precedence_env_over_profile_over_base(profiled: Path) -> None:
    base_only = TaskConfig.from_yaml(profiled, environ={})
    with_profile = TaskConfig.from_yaml(profiled, profile="prod", environ={})
    with_env = TaskConfig.from_yaml(
        profiled, profile="prod", environ={"LEX_TASKS__BACKEND__QUEUE_NAME": "env"}
    )

    assert base_only.backend.queue_name == "base"
    assert with_profile.backend.queue_name == "prod"
    assert with_env.backend.queue_name == "env"
    assert with_env.worker.worker_count == 4


def test_missing_profile_file_is_named(profiled: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_yaml(profiled, profile="staging", environ={})

    assert "application.staging.yaml" in str(info.value)


def test_profile_name_cannot_escape_the_directory(profiled: Path) -> None:
    with pytest.raises(ConfigurationError, match="invalid profile name"):
        TaskConfig.from_yaml(profiled, profile="../prod", environ={})


def test_profile_needs_a_file() -> None:
    with pytest.raises(ConfigurationError, match="profile needs a configuration file"):
        load_config({"backend": {"type": "redis"}}, profile="prod", environ={})


# --- Secrets -------------------------------------------------------------------


def secret_url(scheme: str = "redis") -> str:
    return f"{scheme}://admin:{PASSWORD}@db.internal:5432/app"


def test_repr_and_str_hide_secrets() -> None:
    config = TaskConfig.from_dict(
        {
            "backend": {"type": "postgres", "postgres_dsn": secret_url("postgresql")},
            "backends": [{"name": "cache", "type": "redis", "redis_url": secret_url()}],
            "extra": {"result_backend": secret_url()},
        },
        environ={},
    )

    assert isinstance(config.backend.postgres_dsn, SecretStr)
    assert config.backend.postgres_dsn.get_secret_value() == secret_url("postgresql")
    for text in (repr(config), str(config), config.backend.model_dump_json()):
        assert PASSWORD not in text
    assert "result_backend" not in repr(config)


def test_secrets_never_appear_in_errors(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "application.yaml",
        f"""
        tasks:
          engine: celery
          backend:
            type: postgres
            postgres_dsn: "{secret_url("postgresql")}"
            redis_url: "{secret_url()}"
            queue_name: "{secret_url()}"
            redis_ulr: "{secret_url()}"
          worker: {{worker_count: -1}}
          backends:
            - {{name: x, type: redis, amqp_url: 42}}
            - "{secret_url()}"
        """,
    )

    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_yaml(path, environ={})

    error = info.value
    rendered = [
        str(error),
        repr(error),
        str(error.to_dict()),
        "".join(traceback.format_exception(error)),
    ]
    for text in rendered:
        assert PASSWORD not in text
    assert "tasks.backend.queue_name" in str(error)
    assert "admin:***@db.internal" in str(error)
    assert "tasks.backend.redis_ulr: unknown key; did you mean 'redis_url'?" in str(error)
    assert "tasks.worker.worker_count" in str(error)


def test_secret_field_errors_do_not_echo_the_value() -> None:
    message = str(config_error({"backend": {"redis_url": ["redis://", PASSWORD]}}))

    assert "tasks.backend.redis_url: input should be a valid string" in message
    assert PASSWORD not in message


def test_missing_variable_error_does_not_echo_the_surrounding_string() -> None:
    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_dict(
            {"backend": {"redis_url": f"redis://:{PASSWORD}@${{REDIS_HOST}}:6379"}}, environ={}
        )

    assert "REDIS_HOST" in str(info.value)
    assert PASSWORD not in str(info.value)


# --- redact_url ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:secret@h:6379/0", "redis://:***@h:6379/0"),
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("amqp://guest:guest@localhost:5672//", "amqp://guest:***@localhost:5672//"),
        ("rediss://user:p@ss/w:rd@cache:6380", "rediss://user:***@cache:6380"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("postgresql://h/db?user=a:b", "postgresql://h/db?user=a:b"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_redacts_every_url() -> None:
    text = "cannot reach redis://:pw1@a:6379 or amqp://u:pw2@b// (timeout)"

    assert redact_text(text) == "cannot reach redis://:***@a:6379 or amqp://u:***@b// (timeout)"


def test_named_backend_config_is_a_backend_config() -> None:
    entry = NamedBackendConfig(name="emails", type="redis")

    assert isinstance(entry, BackendConfig)
    assert entry.engine is None
    assert entry.primary is False
    assert RetryConfig(jitter=False).jitter is False
