"""Finding the application: ``APP`` is ``module:attribute`` naming a ``TasksApp``.

The attribute may be dotted (``myproj.jobs:container.tasks``) and may name a
zero-argument callable that returns a ``TasksApp``. The current directory is
put on ``sys.path`` first, as ``celery -A`` does, so ``lexigram-compat worker
myproj.jobs:app`` works from the project root without installing it.
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

from lexigram_compat.app import TasksApp
from lexigram_compat.cli.exits import CliError
from lexigram_compat.errors import TaskQueueError

__all__ = ["AppSpec", "load_app", "module_builds_app", "parse_app_spec"]

_FORMAT_HINT = "pass APP as module:attribute, e.g. myproj.jobs:app"


class AppSpec:
    """A parsed ``module:attribute`` string."""

    def __init__(self, text: str, module: str, attribute: str) -> None:
        self.text = text
        self.module = module
        self.attribute = attribute

    def __str__(self) -> str:
        return self.text


def parse_app_spec(text: str) -> AppSpec:
    """Split ``module:attribute``; raise :class:`CliError` naming the value on a bad shape."""
    module, colon, attribute = text.partition(":")
    parts_ok = all(p.isidentifier() for p in module.split(".")) and all(
        p.isidentifier() for p in attribute.split(".")
    )
    if not colon or not module or not attribute or not parts_ok:
        raise CliError(f"APP {text!r} is not of the form module:attribute", hint=_FORMAT_HINT)
    return AppSpec(text, module, attribute)


def _add_cwd_to_path() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def _import(spec: AppSpec) -> ModuleType:
    _add_cwd_to_path()
    try:
        return importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing and (spec.module == missing or spec.module.startswith(missing + ".")):
            raise CliError(
                f"cannot import module {spec.module!r} (from APP {spec.text!r}): no module named {missing!r}",
                hint="run from the project directory, check the module path, or set PYTHONPATH",
            ) from exc
        raise CliError(
            f"importing module {spec.module!r} (from APP {spec.text!r}) failed: "
            f"it needs {missing or 'a module'!r}, which is not installed",
            hint=f"install the package that provides {missing!r}" if missing else None,
        ) from exc
    except TaskQueueError:
        raise  # a ConfigurationError at import time keeps its own message and exit code
    except Exception as exc:
        raise CliError(
            f"importing module {spec.module!r} (from APP {spec.text!r}) failed: {type(exc).__name__}: {exc}",
            hint="run with --debug for the traceback",
        ) from exc


def _candidates(module: ModuleType) -> list[str]:
    return sorted(name for name, value in vars(module).items() if isinstance(value, TasksApp))


def _attribute(module: ModuleType, spec: AppSpec) -> Any:
    target: Any = module
    walked: list[str] = []
    for part in spec.attribute.split("."):
        walked.append(part)
        if not hasattr(target, part):
            found = _candidates(module)
            hint = (
                f"TasksApp objects in {spec.module}: {', '.join(found)}"
                if found
                else f"define app = TasksApp(...) in {spec.module} and pass {spec.module}:app"
            )
            raise CliError(
                f"module {spec.module!r} has no attribute {'.'.join(walked)!r} (from APP {spec.text!r})",
                hint=hint,
            )
        target = getattr(target, part)
    return target


def load_app(text: str) -> TasksApp:
    """Import and return the ``TasksApp`` that ``text`` names.

    Raises:
        CliError: The string is malformed, the module cannot be imported, the
            attribute is missing, or it is not a ``TasksApp`` (exit code 2).
        TaskQueueError: Building the app failed (e.g. ``ConfigurationError``).
    """
    spec = parse_app_spec(text)
    value = _attribute(_import(spec), spec)
    if isinstance(value, TasksApp):
        return value
    wrong = (
        f"{spec.text} is {type(value).__name__} {value!r}, not a TasksApp"
        if not callable(value) or isinstance(value, type)
        else None
    )
    if wrong is None:
        try:
            value = value()
        except TaskQueueError:
            raise
        except Exception as exc:
            raise CliError(
                f"calling {spec.text}() to build the app failed: {type(exc).__name__}: {exc}",
                hint="APP may name a TasksApp or a function taking no arguments that returns one",
            ) from exc
        if isinstance(value, TasksApp):
            return value
        wrong = f"{spec.text}() returned {type(value).__name__}, not a TasksApp"
    raise CliError(wrong[:300], hint="point APP at a TasksApp, or at a zero-argument function returning one")


def module_builds_app(spec: AppSpec) -> bool:
    """Whether importing ``spec``'s module alone builds its app (``module:name`` with a
    ``TasksApp`` named ``name`` at module level), as ``dramatiq MODULE`` and ``celery -A``
    need. Not so for a dotted attribute path or a factory (the Celery shim's
    ``proj.celery:app.tasks_app``): their native worker loads ``native_entry`` instead."""
    if "." in spec.attribute:
        return False
    return isinstance(getattr(_import(spec), spec.attribute, None), TasksApp)
