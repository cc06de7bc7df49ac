"""Celery settings the shim reads (``config_from_object``, ``app.conf``), and how each
becomes the lexigram ``tasks:`` section; any other setting is refused, naming it."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from lexigram_compat.errors import ConfigurationError

__all__ = ["BUILD_SETTINGS", "JSON_SETTINGS", "SETTINGS", "Settings", "read_object", "tasks_section"]

BUILD_SETTINGS = ("broker_url", "task_default_queue", "task_time_limit", "timezone", "lexigram")
"""Settings that shape the lexigram app: fixed once the app is first used."""
JSON_SETTINGS = ("task_serializer", "result_serializer", "event_serializer", "accept_content",
                 "result_accept_content")  # fmt: skip
"""Accepted when they say JSON (what the shim always sends): Django projects set them."""
SETTINGS = (
    *BUILD_SETTINGS,
    "result_backend", "task_always_eager", "task_eager_propagates", "task_ignore_result",
    "task_acks_late", "enable_utc", "beat_schedule", *JSON_SETTINGS,
)  # fmt: skip
_JSON_NAMES = frozenset({"json", "application/json"})
_REFUSED = {
    "task_routes": "set queue= on each task (or on the call)",
    "task_soft_time_limit": "set soft_time_limit= on the tasks (a base= Task class attribute sets it "
    "for all its tasks)",
    "task_default_rate_limit": "rate limits are not supported",
    "worker_concurrency": "set worker.max_concurrent_tasks in the lexigram config (setting 'lexigram')",
    "worker_prefetch_multiplier": "the engines prefetch what the worker runs; drop it",
    "result_expires": "set retention.completed_seconds in the lexigram config (setting 'lexigram')",
    "imports": "import the task modules, or call app.autodiscover_tasks([...])",
    "include": "import the task modules, or call app.autodiscover_tasks([...])",
    "task_create_missing_queues": "queues are created by the engine; drop it",
}


def _refusal(key: str) -> ConfigurationError:
    hint = _REFUSED.get(key) or (
        "supported settings: " + ", ".join(SETTINGS) + "; engine settings go in the lexigram "
        "tasks: section (setting 'lexigram', or Celery(main, config=...))"
    )
    return ConfigurationError(f"Celery setting {key!r} is not supported by lexigram_compat.celery", hint=hint)


def _check_json(key: str, value: Any) -> None:
    names = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else [value]
    if not names or any(not isinstance(n, str) or n.lower() not in _JSON_NAMES for n in names):
        raise ConfigurationError(
            f"Celery setting {key}={value!r} is not supported by lexigram_compat.celery",
            hint="messages and results are always JSON: set 'json' (or ['json']), or drop the setting",
        )


class Settings(dict[str, Any]):
    """``app.conf``: a dict with attribute access that refuses unsupported keys and a
    change, after the app is in use, of a setting that shapes it."""

    def __init__(self, frozen: Callable[[], bool], on_set: Callable[[str, Any], None] | None = None) -> None:
        super().__init__()
        self._frozen = frozen
        self._on_set = on_set

    def __setitem__(self, key: str, value: Any) -> None:
        if key not in SETTINGS:
            raise _refusal(key)
        if key == "task_acks_late" and value is not True:
            raise ConfigurationError(
                f"Celery setting task_acks_late={value!r} is not supported",
                hint="every engine acknowledges a job after its attempt is recorded (acks late); drop it",
            )
        if key in JSON_SETTINGS:
            _check_json(key, value)
        if key == "enable_utc" and value is not True:
            raise ConfigurationError("enable_utc=False is not supported", hint="times are always UTC-aware")
        if key in BUILD_SETTINGS and self._frozen() and self.get(key) != value:
            raise ConfigurationError(
                f"Celery setting {key!r} changed after the app was first used",
                hint="configure the app (config_from_object / conf) before enqueueing or reading results",
            )
        if self._on_set is not None:
            self._on_set(key, value)  # may refuse the value
        super().__setitem__(key, value)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key: str, value: Any) -> None:
        if key.startswith("_"):
            object.__setattr__(self, key, value)
        else:
            self[key] = value


def read_object(obj: Any, namespace: str | None) -> dict[str, Any]:
    """The settings ``obj`` holds: a mapping, a module/class/object, or its import path
    (``"module:attribute"``); with ``namespace`` only ``NAMESPACE_*`` names, lowercased."""
    if isinstance(obj, str):
        module, _, attribute = obj.partition(":")
        target: Any = importlib.import_module(module)
        for part in filter(None, attribute.split(".")):
            target = getattr(target, part)
        obj = target
    items = dict(obj) if isinstance(obj, Mapping) else {name: getattr(obj, name) for name in dir(obj)}
    found: dict[str, Any] = {}
    prefix = f"{namespace}_" if namespace else ""
    for name, value in items.items():
        if (
            name.startswith("_")
            or inspect.ismodule(value)
            or inspect.isroutine(value)
            or inspect.isclass(value)
        ):
            continue
        if namespace:
            if name.startswith(prefix):
                found[name[len(prefix) :].lower()] = value
        elif name.islower():
            found[name] = value
    return found


def _backend_of(url: str) -> dict[str, Any]:
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return {"type": "memory"}
    if scheme in {"redis", "rediss"}:
        return {"type": "redis", "redis_url": url}
    if scheme in {"amqp", "amqps", "pyamqp"}:
        return {"type": "amqp", "amqp_url": url.replace("pyamqp://", "amqp://", 1)}
    if scheme in {"postgres", "postgresql"}:
        return {"type": "postgres", "postgres_dsn": url}
    raise ConfigurationError(
        f"broker_url with scheme {scheme!r} is not supported by lexigram_compat.celery",
        hint="use memory://, redis://, amqp:// or postgresql://",
    )


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def tasks_section(conf: Mapping[str, Any], config: Mapping[str, Any] | None) -> dict[str, Any]:
    """The lexigram ``tasks:`` section: ``config`` (``Celery(config=...)``), the
    ``lexigram`` setting, then the Celery settings that map onto it."""
    section: dict[str, Any] = {"backend": {"type": "memory"}}
    for extra in (config or {}, conf.get("lexigram") or {}):
        section = _merge(section, extra.get("tasks", extra))
    mapped: dict[str, Any] = {}
    if conf.get("broker_url"):
        mapped["backend"] = _backend_of(str(conf["broker_url"]))
    if conf.get("task_default_queue"):
        mapped.setdefault("backend", {})["queue_name"] = conf["task_default_queue"]
    if conf.get("task_time_limit"):
        mapped["worker"] = {"default_timeout": float(conf["task_time_limit"])}
    if conf.get("timezone"):
        mapped["scheduler"] = {"timezone": conf["timezone"]}
    return _merge(section, mapped)
