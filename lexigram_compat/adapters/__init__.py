"""Engines by name, imported lazily so a missing driver only matters when chosen."""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

from lexigram_compat.errors import EngineNotFoundError

if TYPE_CHECKING:
    from lexigram_compat.adapters.base import Engine

__all__ = ["ENGINES", "engine_class", "engine_key"]

# (engine, backend type) -> (import string, pip extra that provides its driver)
ENGINES: dict[tuple[str, str], tuple[str, str | None]] = {
    ("native", "memory"): ("lexigram_compat.adapters.memory:MemoryEngine", None),
    ("native", "postgres"): ("lexigram_compat.adapters.postgres:PostgresEngine", "postgres"),
    ("dramatiq", "redis"): ("lexigram_compat.adapters.dramatiq:DramatiqEngine", "dramatiq"),
    ("dramatiq", "amqp"): ("lexigram_compat.adapters.dramatiq:DramatiqRabbitmqEngine", "dramatiq-rabbitmq"),
    ("celery", "redis"): ("lexigram_compat.adapters.celery:CeleryEngine", "celery"),
    ("celery", "amqp"): ("lexigram_compat.adapters.celery:CeleryEngine", "celery"),
}


def engine_key(engine: str, backend_type: str) -> str:
    """The capability-table name of a pair: ``memory``, ``postgres``, ``dramatiq-redis``..."""
    if engine == "native":
        return backend_type
    return f"{engine}-{'rabbitmq' if backend_type == 'amqp' else backend_type}"


def engine_class(engine: str, backend_type: str) -> type[Engine]:
    """Import the engine class for a (resolved) engine name and backend type.

    Raises:
        EngineNotFoundError: Unknown pair ("did you mean"), an engine not built
            yet, or its driver is not installed (names the pip extra).
    """
    try:
        target, extra = ENGINES[(engine, backend_type)]
    except KeyError:
        pairs = [f"{e}+{b}" for e, b in ENGINES]
        close = difflib.get_close_matches(f"{engine}+{backend_type}", pairs, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise EngineNotFoundError(
            f"no engine for engine={engine!r} with backend type={backend_type!r}",
            hint=f"{hint}valid pairs: {', '.join(pairs)}",
        ) from None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise EngineNotFoundError(
                f"the {engine_key(engine, backend_type)} engine is not available in this "
                "version of lexigram-compat",
                hint="choose engine: native with backend type memory",
            ) from None
        raise EngineNotFoundError(
            f"the {engine_key(engine, backend_type)} engine needs the module {missing!r}, "
            "which is not installed",
            hint=f"pip install 'lexigram-compat[{extra}]'" if extra else None,
        ) from exc
    cls: type[Engine] = getattr(module, attr)
    return cls
