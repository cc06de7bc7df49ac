"""What the shim itself refuses, asked of the shim (never restated): a task option, a call
option, a ``Celery(...)`` argument. ``--to shims`` reports each, since the shim raises on it
when the module is imported or the call is made."""

from __future__ import annotations

import ast
import functools
import inspect

import libcst as cst

from lexigram_compat.celery.app import Celery
from lexigram_compat.celery.options import check_call_options, task_options
from lexigram_compat.errors import UnsupportedOptionError

__all__ = ["app_argument_refused", "call_option_refused", "task_option_refused"]


def _value(module: cst.Module, node: cst.BaseExpression) -> object:
    try:
        return ast.literal_eval(module.code_for_node(node))
    except (ValueError, SyntaxError):
        return None


def task_option_refused(module: cst.Module, option: str, node: cst.BaseExpression) -> str | None:
    """The shim's hint when ``@app.task(option=...)`` is refused, else None."""
    try:
        task_options("@app.task", {option: _value(module, node)})
    except UnsupportedOptionError as exc:
        return exc.hint or str(exc)
    except (TypeError, ValueError):
        return None  # refused for its value (a non-literal here), which the codemod cannot judge
    return None


def call_option_refused(option: str) -> str | None:
    """The shim's hint when ``apply_async(option=...)`` is refused, else None."""
    if option in ("args", "kwargs"):
        return None  # the call's arguments, not an option
    try:
        check_call_options("apply_async", {option: None})
    except UnsupportedOptionError as exc:
        return exc.hint or str(exc)
    return None


@functools.cache
def _app_arguments() -> frozenset[str]:
    parameters = inspect.signature(Celery.__init__).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is not inspect.Parameter.VAR_KEYWORD) - {"self"}


def app_argument_refused(argument: str) -> bool:
    """Whether ``Celery(argument=...)`` is refused by the shim."""
    return argument not in _app_arguments()
