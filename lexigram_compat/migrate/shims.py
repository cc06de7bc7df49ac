"""``--to shims``: the imports from Celery move to ``lexigram_compat.celery`` (which
provides the same names), and nothing else changes.

A name the shim does not provide (``chord``, ``group``, ``solar``...) stays imported from
Celery, on a line of its own, and is reported; ``get_task_logger`` becomes the standard
library logger it is (a ``logging.Logger`` named after the module)."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider

from lexigram_compat.migrate.findings import Finding, Kind
from lexigram_compat.migrate.names import SHIM_MODULES, dotted, shim_exports
from lexigram_compat.migrate.refusals import app_argument_refused, call_option_refused, task_option_refused

__all__ = ["ShimTransformer"]

_CANVAS = {"chain", "group", "chord", "chunks", "xmap", "xstarmap", "maybe_signature"}
_LOGGING = "celery.utils.log"
_APP_ARGUMENT = (
    "the shim's Celery takes main, broker, backend, include, config (the lexigram tasks: section): an "
    "app-wide Task class (task_cls) has no counterpart; move its hooks to app.hooks"
)
_DATABASE_SCHEDULER = (
    "database schedules (django-celery-beat) are not read: declare each periodic task with @scheduled "
    "(or a beat_schedule entry), then remove the database scheduler and its app"
)


def _is_task_decorator(func: cst.BaseExpression) -> bool:
    name = dotted(func) or ""
    return name.rsplit(".", 1)[-1] == "shared_task" or (
        isinstance(func, cst.Attribute) and func.attr.value == "task" and isinstance(func.value, cst.Name)
    )


def _module_expression(name: str) -> cst.Attribute | cst.Name:
    expression = cst.parse_expression(name)
    assert isinstance(expression, cst.Attribute | cst.Name)
    return expression


class ShimTransformer(cst.CSTTransformer):
    """Rewrites the Celery imports of one file; collects the findings with original lines."""

    # Both here: libcst caches a class's dependencies where a subclass inherits the cache.
    METADATA_DEPENDENCIES = (PositionProvider, ParentNodeProvider)

    def __init__(self, shown: str, module: cst.Module) -> None:
        super().__init__()
        self.shown = shown
        self.module = module
        self.findings: list[Finding] = []
        self.celery_left = False
        self._extra: list[cst.ImportFrom] = []

    def line(self, node: cst.CSTNode) -> int:
        return self.get_metadata(PositionProvider, node).start.line

    def report(
        self,
        node: cst.CSTNode,
        kind: Kind,
        construct: str,
        step: str,
        section: str,
        *,
        converted: bool = False,
    ) -> None:
        line = self.line(node)
        self.findings.append(Finding(self.shown, line, kind, construct, step, section, converted))

    # -- what the shim refuses (the neutral transformer reports these its own way) ----------
    def leave_Decorator(self, original: cst.Decorator, updated: cst.Decorator) -> cst.Decorator:
        call = original.decorator
        if not isinstance(call, cst.Call) or not _is_task_decorator(call.func):
            return updated
        for arg in call.args:
            if arg.keyword is None:
                continue
            hint = task_option_refused(self.module, arg.keyword.value, arg.value)
            if hint is not None:
                construct = f"@{dotted(call.func)}({arg.keyword.value}=...)"
                self.report(
                    original, "definition", construct, f"the shim refuses it: {hint}", "option-mapping"
                )
        return updated

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = original.func
        keywords = [a.keyword.value for a in original.args if a.keyword is not None]
        if isinstance(func, cst.Attribute) and func.attr.value == "apply_async":
            for option in keywords:
                hint = call_option_refused(option)
                if hint is not None:
                    step = f"the shim refuses it: {hint}"
                    self.report(original, "call", f"apply_async({option}=...)", step, "call-sites")
        elif (dotted(func) or "").rsplit(".", 1)[-1] == "Celery":
            for argument in keywords:
                if app_argument_refused(argument):
                    self.report(
                        original, "other", f"Celery(..., {argument}=...)", _APP_ARGUMENT, "app-construction"
                    )
        return updated

    def leave_SimpleString(self, original: cst.SimpleString, updated: cst.SimpleString) -> cst.SimpleString:
        value = original.evaluated_value
        if isinstance(value, str) and value.startswith("django_celery_beat"):
            self.report(original, "schedule", f"{value!r}", _DATABASE_SCHEDULER, "django-celery-beat")
        return updated

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        for alias in original.names:
            name = dotted(alias.name) or ""
            if name == "celery" or name.startswith("celery."):
                self.celery_left = True
                self.report(
                    original,
                    "import",
                    f"import {name}",
                    "import the names from lexigram_compat.celery instead "
                    "(from lexigram_compat.celery import shared_task, ...)",
                    "imports",
                )
        return updated

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if original.relative or original.module is None:
            return updated
        module = dotted(original.module) or ""
        if module.startswith("django_celery_beat"):
            self.report(
                original,
                "schedule",
                f"from {module} import ...",
                _DATABASE_SCHEDULER,
                "django-celery-beat",
            )
            return updated
        if (
            module == _LOGGING
            and isinstance(updated.names, tuple | list)
            and [dotted(a.name) for a in updated.names] == ["get_task_logger"]
            and updated.names[0].asname is None
        ):
            self.report(
                original,
                "import",
                "from celery.utils.log import get_task_logger",
                "now logging.getLogger: the logger is named after the module (Celery's is a child "
                "of 'celery.task'); adjust logging config that filtered on 'celery.task'",
                "imports",
                converted=True,
            )
            return updated.with_changes(
                module=cst.Name("logging"),
                names=[
                    cst.ImportAlias(cst.Name("getLogger"), asname=cst.AsName(cst.Name("get_task_logger")))
                ],
            )
        if module != "celery" and not module.startswith("celery."):
            return updated
        if module not in SHIM_MODULES or isinstance(updated.names, cst.ImportStar):
            self.celery_left = True
            self.report(
                original,
                "import",
                f"from {module} import ...",
                f"{module} has no counterpart in lexigram_compat.celery: remove what uses it",
                "imports",
            )
            return updated
        exported = shim_exports(module)
        keep = [a for a in updated.names if (dotted(a.name) or "") in exported]
        left = [a for a in updated.names if (dotted(a.name) or "") not in exported]
        for alias in left:
            name = dotted(alias.name) or ""
            self.celery_left = True
            section = "canvas" if name in _CANVAS else "imports"
            step = (
                "canvas (chain, group, chord) has no neutral counterpart: enqueue the next task at the end "
                "of each task, or keep these tasks on Celery"
                if name in _CANVAS
                else f"lexigram_compat.celery does not provide {name}: remove what uses it"
            )
            self.report(original, "import", f"from {module} import {name}", step, section)
        if not keep:
            return updated
        shim = updated.with_changes(
            module=_module_expression(SHIM_MODULES[module]), names=_commas(keep) if left else updated.names
        )
        if left:
            self._extra.append(updated.with_changes(names=_commas(left)))
        return shim

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine | cst.FlattenSentinel[cst.SimpleStatementLine]:
        if not self._extra:
            return updated
        extra = [cst.SimpleStatementLine([node]) for node in self._extra]
        self._extra = []
        return cst.FlattenSentinel([updated, *extra])


def _commas(aliases: list[cst.ImportAlias]) -> list[cst.ImportAlias]:
    last = len(aliases) - 1
    return [
        a.with_changes(comma=cst.MaybeSentinel.DEFAULT) if i == last else a for i, a in enumerate(aliases)
    ]
