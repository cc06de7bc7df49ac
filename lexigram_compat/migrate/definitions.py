"""Task definitions: recognise ``@shared_task`` / ``@app.task``, and plan the neutral
``@task(...)`` with the retry policy Celery's options mean.

The policy is computed by the shim's own :class:`~lexigram_compat.celery.options.TaskOptions`
(Celery's defaults and formula), so the codemod and the shim cannot disagree; an option the
neutral ``@task`` cannot express is left on the shim with the shim's own hint.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from lexigram_compat.celery.options import TASK_OPTIONS, TaskOptions, task_options
from lexigram_compat.errors import UnsupportedOptionError
from lexigram_compat.migrate.names import ImportMap

__all__ = ["DefinitionPlan", "plan_definition", "task_decorator_index"]

_SHARED_TASK = {"celery.shared_task", "lexigram_compat.celery.shared_task", "celery.task"}
NEUTRAL_OPTIONS = frozenset({
    "name", "bind", "queue", "priority", "max_retries", "default_retry_delay", "retry_backoff",
    "retry_backoff_max", "retry_jitter", "autoretry_for", "dont_autoretry_for", "retry_kwargs",
    "ignore_result", "time_limit", "acks_late", "throws", "compression", "soft_time_limit", "expires",
    "rate_limit",
})  # fmt: skip
"""The Celery options this module converts (or drops with a note). An option the shim learns
later (``TASK_OPTIONS`` grows) is not among them, so it is reported, never dropped."""
_SOURCE_OPTIONS = ("name", "queue", "autoretry_for", "dont_autoretry_for", "throws", "compression", "expires",
                   "rate_limit")  # fmt: skip
_CARRIED = {"compression": "compression", "expires": "expires", "rate_limit": "rate_limit"}
"""Options the neutral ``@task`` has under the same name, carried over as source."""
"""Options carried over as source (an expression, exception classes), not evaluated."""
_RETRY_OPTIONS = ("max_retries", "default_retry_delay", "retry_backoff", "retry_backoff_max", "retry_jitter")
_DROPPED = {
    "acks_late": "every engine acknowledges after the attempt is recorded (Celery's acks_late=True)",
    "ignore_result": "the neutral @task keeps the return value in the job record for the "
    "retention period; return None to store nothing",
    "throws": "expected errors are dead-lettered like any other failure (Celery only logs them "
    "without a traceback)",
}
_SILENTLY_IGNORED = {
    "max_retry": "Celery silently ignores this misspelling (the option is max_retries): the task "
    "has Celery's default 3 retries; remove it or write max_retries=",
    "ignore_results": "Celery silently ignores this misspelling (the option is ignore_result): "
    "remove it or write ignore_result=",
}


def _call_of(decorator: cst.Decorator) -> tuple[cst.BaseExpression, cst.Call | None]:
    node = decorator.decorator
    return (node.func, node) if isinstance(node, cst.Call) else (node, None)


def task_decorator_index(node: cst.FunctionDef, imports: ImportMap) -> int | None:
    """The index of the Celery task decorator among ``node``'s decorators, or None."""
    for index, decorator in enumerate(node.decorators):
        target, _ = _call_of(decorator)
        qualified = imports.qualify(target) or ""
        if qualified in _SHARED_TASK:
            return index
        if (
            isinstance(target, cst.Attribute)
            and target.attr.value == "task"
            and isinstance(target.value, cst.Name)
        ):
            return index  # app.task, celery_app.task: a Celery app's decorator
    return None


@dataclass
class DefinitionPlan:
    """What becomes of one task definition.

    ``decorator`` is the neutral ``@task(...)`` source (None: the definition stays on the
    shim, for ``problems``); ``notes`` are options converted with a difference to check."""

    options: dict[str, str] = field(default_factory=dict)
    bind: bool = False
    decorator: str | None = None
    needs: set[str] = field(default_factory=set)
    problems: list[tuple[str, str, str]] = field(default_factory=list)
    notes: list[tuple[str, str, str]] = field(default_factory=list)


def _shim_hint(option: str) -> str:
    """The shim's own word on an option the neutral @task has no counterpart for."""
    try:
        task_options("@app.task", {option: None})
    except UnsupportedOptionError as exc:
        return f"{exc.hint}" if exc.hint else str(exc)
    except (TypeError, ValueError):
        pass
    return "the shim (lexigram_compat.celery) supports it but the neutral @task has no counterpart"


def _policy_source(values: dict[str, Any], retry_on: str, abort_on: str | None) -> str:
    policy = TaskOptions(**values).policy()
    jitter = '"full"' if policy.jitter == "full" else repr(policy.jitter)
    parts = [
        f"max_attempts={policy.max_attempts}",
        f"base_delay={policy.base_delay!r}",
        f"backoff_factor={policy.backoff_factor!r}",
        f"max_delay={policy.max_delay!r}",
        f"jitter={jitter}",
        f"retry_on={retry_on}",
    ]
    if abort_on is not None:
        parts.append(f"abort_on={abort_on}")
    return f"RetryPolicy({', '.join(parts)})"


WIDTH = 100
"""Decorators longer than this are laid out one argument per line (ruff's and black's style)."""


def layout(function: str, arguments: list[str], indent: str = "") -> str:
    """``function(arguments...)`` on one line, or one argument per line when it is longer than
    :data:`WIDTH` (an argument that is itself a long call is laid out the same way)."""
    line = f"{function}({', '.join(arguments)})"
    if len(indent) + len(line) + 1 <= WIDTH:
        return line
    inner = indent + "    "
    laid = []
    for argument in arguments:
        name, _, value = argument.partition("=")
        call = value.partition("(")
        if len(inner) + len(argument) > WIDTH and call[1] and value.endswith(")") and name.isidentifier():
            parts = _split_arguments(value[len(call[0]) + 1 : -1])
            laid.append(f"{inner}{name}={layout(call[0], parts, inner)},\n")
        else:
            laid.append(f"{inner}{argument},\n")
    return f"{function}(\n{''.join(laid)}{indent})"


def _split_arguments(text: str) -> list[str]:
    """The top-level comma-separated arguments of ``text`` (brackets and strings respected)."""
    parts: list[str] = []
    depth, start, quote = 0, 0, ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    tail = text[start:].strip()
    return [*parts, tail] if tail else parts


def _as_tuple(code: str) -> str:
    expression = cst.parse_expression(code)
    if isinstance(expression, cst.Tuple | cst.Name | cst.Attribute):
        return code if not isinstance(expression, cst.Name | cst.Attribute) else f"({code},)"
    if isinstance(expression, cst.List):
        return f"({code[1:-1].strip().rstrip(',')},)" if expression.elements else "()"
    return f"tuple({code})"


def _read_options(plan: DefinitionPlan, decorator: cst.Decorator, module: cst.Module) -> dict[str, Any]:
    """Fill ``plan.options`` (source text by name) and return the literal values; what is not
    convertible goes to ``plan.problems``."""
    _, call = _call_of(decorator)
    for arg in call.args if call is not None else ():
        if arg.keyword is None:
            plan.problems.append(
                ("positional decorator argument", "give the options as keywords", "option-mapping")
            )
            continue
        plan.options[arg.keyword.value] = module.code_for_node(arg.value)
    values: dict[str, Any] = {}
    for option, code in plan.options.items():
        if option == "soft_time_limit":
            try:
                values[option] = float(ast.literal_eval(code))
            except (ValueError, SyntaxError, TypeError):
                plan.problems.append(
                    (f"{option}={code}", "write a literal number of seconds", "option-mapping")
                )
        elif option not in TASK_OPTIONS or option not in NEUTRAL_OPTIONS:
            ignored = option in _SILENTLY_IGNORED
            step = _SILENTLY_IGNORED[option] if ignored else _shim_hint(option)
            plan.problems.append(
                (f"{option}=", step, "options-celery-ignores" if ignored else "option-mapping")
            )
        elif option not in _SOURCE_OPTIONS:
            try:
                values[option] = ast.literal_eval(code)
            except (ValueError, SyntaxError):
                step = "the retry policy is computed from literal values: write the literal, or the policy"
                plan.problems.append((f"{option}={code}", step, "option-mapping"))
    return values


def _retry(plan: DefinitionPlan, values: dict[str, Any], retries_itself: bool) -> str:
    """The ``RetryPolicy(...)`` source the options mean."""
    retry_kwargs = values.pop("retry_kwargs", {}) or {}
    autoretry = plan.options.get("autoretry_for")
    if autoretry is not None and isinstance(retry_kwargs, dict):
        if "max_retries" in retry_kwargs:
            values["max_retries"] = retry_kwargs["max_retries"]
        if "countdown" in retry_kwargs and not values.get("retry_backoff"):
            values["default_retry_delay"] = retry_kwargs["countdown"]
    if autoretry is None and not retries_itself:
        return "RetryPolicy(max_attempts=1)"  # nothing retries it: a failure dead-letters at once
    abort_on = plan.options.get("dont_autoretry_for")
    return _policy_source(
        {k: v for k, v in values.items() if k in _RETRY_OPTIONS},
        _as_tuple(autoretry) if autoretry else "()",
        _as_tuple(abort_on) if abort_on is not None else None,
    )


def plan_definition(decorator: cst.Decorator, module: cst.Module, retries_itself: bool) -> DefinitionPlan:
    """Plan the neutral ``@task`` for the Celery task decorator ``decorator``.

    ``retries_itself``: the body calls ``self.retry`` (a bound task)."""
    plan = DefinitionPlan()
    values = _read_options(plan, decorator, module)
    if plan.problems:
        return plan
    plan.bind = bool(values.pop("bind", False))
    if values.get("acks_late") is False:
        step = (
            "every engine acknowledges after the attempt (at-least-once): make the task idempotent, drop it"
        )
        plan.problems.append(("acks_late=False", step, "idempotency"))
        return plan
    out = [f"{option}={plan.options[option]}" for option in ("name", "queue") if option in plan.options]
    out += [f"{_CARRIED[option]}={plan.options[option]}" for option in _CARRIED if option in plan.options]
    for option in ("acks_late", "ignore_result", "throws"):
        if option in plan.options and (option == "throws" or values.get(option)):
            plan.notes.append((f"{option}={plan.options[option]}", _DROPPED[option], "option-mapping"))
        values.pop(option, None)
    if "priority" in values:
        out.append(f"priority={values.pop('priority')!r}")
    soft = values.pop("soft_time_limit", None)
    if "time_limit" in values:
        out.append(f"timeout={values.pop('time_limit')!r}")
    if soft is not None:
        out.append(f"soft_timeout={soft!r}")  # SoftTimeLimitExceeded is the neutral TaskSoftTimeoutError
    try:
        retry = _retry(plan, values, retries_itself)
    except (TypeError, ValueError) as exc:
        plan.problems.append(("retry options", f"the options make no retry policy: {exc}", "option-mapping"))
        return plan
    out.append(f"retry={retry}")
    plan.needs |= {"task", "RetryPolicy"}
    plan.decorator = layout("task", out)
    return plan
