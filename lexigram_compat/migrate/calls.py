"""Call sites: ``task.delay(...)`` and ``task.apply_async(...)`` become explicit enqueues
returning a ``Result`` (``enqueue_sync`` from sync code, ``await ... enqueue`` from async
code), through the queue of the project's (shim) app: ``current_app().queue_handle()``.

The call options map as the shim maps them (``countdown`` -> ``delay``, ``task_id`` ->
``job_id``, ...); one the neutral ``enqueue`` has no counterpart for leaves the call on the
shim, with the shim's own hint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import libcst as cst

from lexigram_compat.celery.options import CALL_OPTIONS, check_call_options
from lexigram_compat.errors import UnsupportedOptionError

__all__ = ["ENQUEUE_METHODS", "Enqueue", "enqueue_of"]

ENQUEUE_METHODS = ("delay", "apply_async")
_NEUTRAL_OPTION = {
    "countdown": "delay",
    "eta": "eta",
    "queue": "queue",
    "priority": "priority",
    "task_id": "job_id",
    "headers": "headers",
    "expires": "expires",
    "compression": "compression",
}
_CANVAS = {"link", "link_error"}
_IGNORED_BY_CELERY = {
    "timeout": "Celery silently ignores apply_async(timeout=): remove it (a publish is retried by the "
    "engine; a job's run time is the task's time_limit)",
}
QUEUE = "current_app().queue_handle()"


@dataclass
class Enqueue:
    """The converted expression, or why the call stays on the shim."""

    expression: cst.BaseExpression | None
    problem: str | None = None
    section: str = "call-sites"


def _option_problem(option: str) -> tuple[str, str]:
    if option in _IGNORED_BY_CELERY:
        return _IGNORED_BY_CELERY[option], "options-celery-ignores"
    if option in _CANVAS:
        return (
            f"apply_async({option}=...): callbacks have no neutral counterpart; enqueue the next task "
            "at the end of this one (or handle the failure from its dead letter)",
            "canvas",
        )
    try:
        check_call_options("apply_async", {option: None})
    except UnsupportedOptionError as exc:
        return f"apply_async({option}=...): {exc.hint or exc}", "call-sites"
    return (
        f"apply_async({option}=...): the shim supports it, the neutral enqueue has no counterpart",
        "call-sites",
    )


def _spread(value: cst.BaseExpression | None, star: Literal["*", "**"]) -> list[cst.Arg]:
    """The arguments ``args=``/``kwargs=`` stand for, spread into a call."""
    if value is None or (isinstance(value, cst.Name) and value.value == "None"):
        return []
    if star == "*" and isinstance(value, cst.Tuple | cst.List):
        return [
            cst.Arg(e.value, star="*" if isinstance(e, cst.StarredElement) else "") for e in value.elements
        ]
    if star == "**" and isinstance(value, cst.Dict):
        keys = [
            e.key.evaluated_value
            if isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString)
            else None
            for e in value.elements
        ]
        if all(isinstance(k, str) and k.isidentifier() for k in keys):
            return [
                cst.Arg(e.value, keyword=cst.Name(str(k)), equal=_EQUAL)
                for e, k in zip(value.elements, keys, strict=True)
                if isinstance(e, cst.DictElement)
            ]
    return [cst.Arg(value, star=star)]


_EQUAL = cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))


def enqueue_of(call: cst.Call, receiver: cst.BaseExpression, method: str, is_async: bool) -> Enqueue:
    """The neutral enqueue for ``receiver.method(...)`` (``call``).

    The call's own layout is kept: ``.delay``'s arguments as written; ``apply_async``'s
    options (renamed) with their commas, line breaks and comments."""
    queue = cst.parse_expression(QUEUE)
    target = cst.Attribute(queue, cst.Name("enqueue" if is_async else "enqueue_sync"))
    if method == "delay":
        outer = [cst.Arg(call.with_changes(func=receiver))]
    else:
        positional = [a for a in call.args if a.keyword is None and not a.star]
        if any(a.star for a in call.args) or len(positional) > 2:
            return Enqueue(None, "apply_async with more than (args, kwargs) positionally")
        named = {a.keyword.value: a for a in call.args if a.keyword is not None}
        args_arg = positional[0] if positional else named.pop("args", None)
        kwargs_arg = positional[1] if len(positional) > 1 else named.pop("kwargs", None)
        options: list[cst.Arg] = []
        for option, arg in named.items():
            if option not in CALL_OPTIONS or option not in _NEUTRAL_OPTION:
                problem, section = _option_problem(option)
                return Enqueue(None, problem, section)
            options.append(arg.with_changes(keyword=cst.Name(_NEUTRAL_OPTION[option])))
        task_args = _spread(args_arg.value if args_arg else None, "*")
        task_args += _spread(kwargs_arg.value if kwargs_arg else None, "**")
        consumed = [a for a in (args_arg, kwargs_arg) if a is not None]
        last_comma = consumed[-1].comma if consumed else cst.MaybeSentinel.DEFAULT
        task_call = cst.Arg(cst.Call(receiver, args=_tidy(task_args)))
        if options:
            comma = last_comma if isinstance(last_comma, cst.Comma) else _COMMA
            outer = [task_call.with_changes(comma=comma), *options]
        else:
            outer = [task_call]
    expression: cst.BaseExpression = cst.Call(
        target, args=outer, whitespace_before_args=call.whitespace_before_args
    )
    if is_async:
        expression = cst.Await(expression)
    return Enqueue(expression)


_COMMA = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _tidy(args: list[cst.Arg]) -> list[cst.Arg]:
    """Arguments separated by ", " (the originals keep their own whitespace otherwise)."""
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    return [
        a.with_changes(comma=comma if i < len(args) - 1 else cst.MaybeSentinel.DEFAULT)
        for i, a in enumerate(args)
    ]
