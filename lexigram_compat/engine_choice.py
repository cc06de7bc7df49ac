"""Which engine runs on which backend: names, aliases, valid pairs and ``auto``.

The valid pairs are the keys of :data:`ENGINE_IMPORTS`, so an engine added there is
accepted by the configuration without a second list.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Literal

from pydantic_core import PydanticCustomError

from lexigram_compat.config_loading import did_you_mean, invalid_value
from lexigram_compat.errors import ConfigurationError, EngineNotFoundError

__all__ = [
    "AUTO_ENGINES",
    "BACKEND_ALIASES",
    "BACKEND_TYPES",
    "ENGINES",
    "ENGINE_IMPORTS",
    "VALID_ENGINE_PAIRS",
    "BackendType",
    "EngineName",
    "choose",
    "pair_problem",
    "resolve_engine",
]

EngineName = Literal["auto", "native", "dramatiq", "celery"]
BackendType = Literal["memory", "redis", "amqp", "postgres"]

ENGINES: tuple[str, ...] = typing.get_args(EngineName)
BACKEND_TYPES: tuple[str, ...] = typing.get_args(BackendType)
BACKEND_ALIASES: Mapping[str, str] = {"rabbitmq": "amqp"}
AUTO_ENGINES: Mapping[str, str] = {
    "memory": "native",
    "postgres": "native",
    "redis": "dramatiq",
    "amqp": "dramatiq",
}
# (engine, backend type) -> (import string, pip extra that provides its driver)
ENGINE_IMPORTS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("native", "memory"): ("lexigram_compat.adapters.memory:MemoryEngine", None),
    ("native", "postgres"): ("lexigram_compat.adapters.postgres:PostgresEngine", "postgres"),
    ("dramatiq", "redis"): ("lexigram_compat.adapters.dramatiq:DramatiqEngine", "dramatiq"),
    ("dramatiq", "amqp"): ("lexigram_compat.adapters.dramatiq:DramatiqRabbitmqEngine", "dramatiq-rabbitmq"),
    ("celery", "redis"): ("lexigram_compat.adapters.celery:CeleryEngine", "celery"),
    ("celery", "amqp"): ("lexigram_compat.adapters.celery:CeleryEngine", "celery"),
}
"""(engine, backend type) → (``module:Class``, pip extra): imported lazily by
``lexigram_compat.engine_registry``, so a missing driver only matters when chosen."""
VALID_ENGINE_PAIRS: tuple[tuple[str, str], ...] = tuple(ENGINE_IMPORTS)

_PAIRS_TEXT = ", ".join(f"{engine}+{kind}" for engine, kind in VALID_ENGINE_PAIRS)


def choose(value: object, choices: tuple[str, ...], what: str) -> str:
    """Normalise a case-insensitive choice, resolving aliases, or raise a helpful error."""
    key = value.strip().lower() if isinstance(value, str) else value
    key = BACKEND_ALIASES.get(key, key) if isinstance(key, str) and what == "backend type" else key
    if isinstance(key, str) and key in choices:
        return key
    aliases = "".join(f" ({a} is an alias of {t})" for a, t in BACKEND_ALIASES.items())
    valid = ", ".join(choices) + (aliases if what == "backend type" else "")
    guess = did_you_mean(key, choices) if isinstance(key, str) else ""
    raise invalid_value(f"unknown {what}; {guess}valid {what}s: {valid}", value)


def _engine_for(engine: str, backend_type: str) -> str | None:
    """The concrete engine for a valid pair, or None for an impossible one."""
    if engine == "auto":
        return AUTO_ENGINES[backend_type]
    return engine if (engine, backend_type) in VALID_ENGINE_PAIRS else None


def pair_problem(engine: str, backend_type: str, note: str = "") -> str | None:
    if _engine_for(engine, backend_type) is not None:
        return None
    return f"engine {engine!r}{note} cannot run on backend type {backend_type!r}; valid pairs: {_PAIRS_TEXT}"


def resolve_engine(engine: str, backend_type: str) -> str:
    """Pick the concrete engine for an ``engine`` setting and a backend type.

    ``auto`` picks ``native`` for memory and postgres, ``dramatiq`` for redis
    and amqp. Both names are case-insensitive; ``rabbitmq`` means ``amqp``.

    Args:
        engine: ``auto``, ``native``, ``dramatiq`` or ``celery``.
        backend_type: ``memory``, ``redis``, ``amqp`` (``rabbitmq``) or ``postgres``.

    Returns:
        ``"native"``, ``"dramatiq"`` or ``"celery"``.

    Raises:
        EngineNotFoundError: The engine name is unknown.
        ConfigurationError: The backend type is unknown, or the engine cannot
            run on it (the message lists the valid pairs).
    """
    try:
        name = choose(engine, ENGINES, "engine")
    except PydanticCustomError as exc:
        raise EngineNotFoundError(
            exc.message(), hint="set tasks.engine to one of the listed engines"
        ) from None
    try:
        kind = choose(backend_type, BACKEND_TYPES, "backend type")
    except PydanticCustomError as exc:
        raise ConfigurationError(
            exc.message(), hint="set tasks.backend.type to one of the listed types"
        ) from None
    if message := pair_problem(name, kind):
        raise ConfigurationError(message, hint="change the engine or the backend type, or use auto")
    return AUTO_ENGINES[kind] if name == "auto" else name
