"""``beat_schedule`` entries: a literal entry whose task converts becomes an
``@scheduled(...)`` decorator on that task (named like the entry), and leaves the dict.

``crontab(...)`` is read by the shim's own :class:`~lexigram_compat.celery.schedules.crontab`
(the same cron string the shim would fire on); a ``timedelta`` or a number of seconds is an
interval (``every=``). A custom schedule object, a non-literal argument, ``relative`` or a
call option the neutral schedule has no counterpart for is left, reported.
"""

from __future__ import annotations

import ast
import json
from typing import TYPE_CHECKING, Any

import libcst as cst

from lexigram_compat.celery.schedules import crontab
from lexigram_compat.errors import ConfigurationError
from lexigram_compat.migrate.definitions import layout
from lexigram_compat.migrate.findings import Finding
from lexigram_compat.migrate.names import dotted

if TYPE_CHECKING:
    from lexigram_compat.migrate.analysis import FileInfo, Project

__all__ = ["BEAT_NAMES", "beat_dicts", "plan_beat"]

BEAT_NAMES = ("beat_schedule", "CELERY_BEAT_SCHEDULE", "CELERYBEAT_SCHEDULE")
_SCHEDULE_OPTIONS = ("queue", "priority", "headers")  # what @scheduled takes


def _source(value: Any) -> str:
    """``value`` as Python source, strings in double quotes (as most codebases write them)."""
    return json.dumps(value) if isinstance(value, str) else repr(value)


def beat_dicts(module: cst.Module) -> list[cst.Dict]:
    """The dict literals assigned to a ``beat_schedule`` (``app.conf.beat_schedule = {...}``,
    ``CELERY_BEAT_SCHEDULE = {...}`` in Django settings, ``beat_schedule = {...}``)."""
    found: list[cst.Dict] = []

    class Finder(cst.CSTVisitor):
        def visit_Assign(self, node: cst.Assign) -> None:
            for target in node.targets:
                name = dotted(target.target) or ""
                if name.rsplit(".", 1)[-1] in BEAT_NAMES and isinstance(node.value, cst.Dict):
                    found.append(node.value)

    module.visit(Finder())
    return found


def _literal(module: cst.Module, node: cst.BaseExpression) -> Any:
    return ast.literal_eval(module.code_for_node(node))


def _timing(module: cst.Module, node: cst.BaseExpression) -> tuple[str, bool]:
    """``cron="..."`` or ``every=...`` for a schedule expression, and whether the target module
    needs ``timedelta``; raises ValueError naming what is not convertible."""
    if isinstance(node, cst.Integer | cst.Float):
        return f"every={module.code_for_node(node)}", False
    if isinstance(node, cst.Call):
        name = (dotted(node.func) or "").rsplit(".", 1)[-1]
        try:
            args = [_literal(module, a.value) for a in node.args if a.keyword is None]
            kwargs = {a.keyword.value: _literal(module, a.value) for a in node.args if a.keyword is not None}
        except (ValueError, SyntaxError):
            raise ValueError(f"{name}(...) has non-literal arguments") from None
        if name == "crontab":
            try:
                return f"cron={_source(crontab(*args, **kwargs).cron)}", False
            except (ConfigurationError, TypeError) as exc:
                raise ValueError(str(exc)) from None
        if name == "timedelta":
            if isinstance(node.func, cst.Name):
                return f"every={module.code_for_node(node)}", True
            from datetime import timedelta

            return f"every={timedelta(*args, **kwargs).total_seconds()!r}", False
        raise ValueError(f"custom schedule {name}(...)")
    raise ValueError(f"schedule {module.code_for_node(node)} is not a crontab, timedelta or number")


def _entry(module: cst.Module, key: str, value: cst.Dict) -> tuple[str, list[str], bool]:
    """The task name, the ``@scheduled`` arguments and whether timedelta is needed."""
    fields: dict[str, cst.BaseExpression] = {}
    for element in value.elements:
        if not isinstance(element, cst.DictElement) or not isinstance(element.key, cst.SimpleString):
            raise ValueError("the entry is not a literal dict")
        name = element.key.evaluated_value
        fields[name if isinstance(name, str) else ""] = element.value
    task = fields.pop("task", None)
    if not isinstance(task, cst.SimpleString) or not isinstance(task.evaluated_value, str):
        raise ValueError("the entry's task is not a string literal")
    schedule = fields.pop("schedule", None)
    if schedule is None:
        raise ValueError("the entry has no schedule")
    timing, needs_timedelta = _timing(module, schedule)
    arguments = [timing, f"name={_source(key)}"]
    for option in ("args", "kwargs"):
        if option in fields:
            try:
                _literal(module, fields[option])
            except (ValueError, SyntaxError):
                raise ValueError(f"{option} is not a literal") from None
            arguments.append(f"{option}={module.code_for_node(fields.pop(option))}")
    options = fields.pop("options", None)
    if options is not None:
        try:
            values = _literal(module, options)
        except (ValueError, SyntaxError):
            raise ValueError("options is not a literal dict") from None
        if not isinstance(values, dict):
            raise ValueError("options is not a dict")
        for option, option_value in values.items():
            if option not in _SCHEDULE_OPTIONS:
                raise ValueError(
                    f"options[{option!r}] has no @scheduled counterpart "
                    f"(it takes {', '.join(_SCHEDULE_OPTIONS)})"
                )
            arguments.append(f"{option}={_source(option_value)}")
    if fields:
        raise ValueError(f"{', '.join(sorted(fields))} has no @scheduled counterpart")
    return task.evaluated_value, arguments, needs_timedelta


def plan_beat(project: Project, info: FileInfo) -> None:
    """Decide each beat entry of ``info``'s file: moved to its task's ``@scheduled``, or left."""
    module = info.wrapper.module
    for table in beat_dicts(module):
        for element in table.elements:
            if not isinstance(element, cst.DictElement):
                continue
            line = info.line_of(element)
            key = element.key.evaluated_value if isinstance(element.key, cst.SimpleString) else None
            problem: str | None = None
            definition = None
            try:
                if not isinstance(key, str) or not isinstance(element.value, cst.Dict):
                    raise ValueError("the entry is not a literal 'name': {...} item")
                task_name, arguments, needs_timedelta = _entry(module, key, element.value)
                definition = project.by_task_name(task_name)
                if definition is None:
                    raise ValueError(f"task {task_name!r} is not defined under the given paths")
                if not definition.converts:
                    raise ValueError(
                        f"task {task_name!r} stays on the shim ({definition.path}:{definition.line})"
                    )
            except ValueError as exc:
                problem = str(exc)
            project.schedules.add(problem is None)
            construct = f"beat entry {key!r}" if isinstance(key, str) else "beat entry"
            if problem is not None or definition is None:
                project.findings.append(
                    Finding(
                        info.source.shown,
                        line,
                        "schedule",
                        f"{construct}: {problem}",
                        "keep the entry in beat_schedule (the shim fires it) or "
                        "write the @scheduled declaration by hand",
                        "beat-schedules",
                    )
                )
                continue
            definition.schedules.append(layout("scheduled", arguments))
            if needs_timedelta:
                definition.plan.needs.add("timedelta")
            info.removed_entries.add(id(element))
