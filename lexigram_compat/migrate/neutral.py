"""``--to neutral``: on top of the shim's imports, task definitions become ``@task(...)``,
bound tasks take a ``JobContext``, call sites become explicit enqueues, beat entries become
``@scheduled``; what the neutral API cannot express is reported where it stands."""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import ParentNodeProvider

from lexigram_compat.migrate.calls import ENQUEUE_METHODS, enqueue_of
from lexigram_compat.migrate.findings import Counts
from lexigram_compat.migrate.names import dotted
from lexigram_compat.migrate.refusals import app_argument_refused
from lexigram_compat.migrate.shim_uses import patched
from lexigram_compat.migrate.shims import ShimTransformer

if TYPE_CHECKING:
    from lexigram_compat.migrate.analysis import Definition, FileInfo, Project

__all__ = ["NeutralTransformer"]

_CANVAS_FUNCTIONS = {"chain", "group", "chord", "chunks"}
_CANVAS_METHODS = {"chunks", "map", "starmap"}
_SIGNATURE_METHODS = {"s", "si", "signature"}
_RESULT_KEYWORDS = {"timeout", "propagate", "interval", "disable_sync_subtasks"}


def _is_signature(node: cst.BaseExpression) -> bool:
    """``task.s(...)``, ``chain(...)``, ``a.s() | b.s()``: a Celery signature or workflow."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return True
    if isinstance(node, cst.Call):
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value == "set":
            return _is_signature(func.value)  # sig.set(countdown=...): still the signature
        if isinstance(func, cst.Attribute) and func.attr.value in _SIGNATURE_METHODS | _CANVAS_METHODS:
            return True
        return (dotted(func) or "").rsplit(".", 1)[-1] in _CANVAS_FUNCTIONS
    return False


class NeutralTransformer(ShimTransformer):
    """One file's neutral rewrite, with the project-wide decisions of the first pass."""

    def __init__(self, project: Project, info: FileInfo, calls: Counts, definitions: Counts) -> None:
        super().__init__(info.source.shown, info.wrapper.module)
        self.project = project
        self.info = info
        self.calls = calls
        self.definitions = definitions
        self.needs: set[str] = set()
        self._async: list[bool] = []
        self._results: list[set[str]] = [set()]
        """Per function: the names a converted enqueue's Result was assigned to (``.id`` -> ``.unwrap()``)."""
        self._converted_calls: set[int] = set()

    # -- helpers -----------------------------------------------------------------------
    def _definition(self, expression: cst.BaseExpression) -> Definition | None:
        qualified = self.info.imports.qualify(expression)
        return self.project.definitions.get(qualified or "")

    def _code(self, node: cst.CSTNode) -> str:
        text = " ".join(self.info.wrapper.module.code_for_node(node).split())
        return text if len(text) <= 100 else text[:97] + "..."

    # -- definitions -------------------------------------------------------------------
    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._async.append(node.asynchronous is not None)
        self._results.append(set())

    def visit_Lambda(self, node: cst.Lambda) -> None:
        self._async.append(False)

    def leave_Lambda(self, original: cst.Lambda, updated: cst.Lambda) -> cst.Lambda:
        self._async.pop()
        return updated

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        self._async.pop()
        self._results.pop()
        definition = next(
            (d for d in self.project.definitions.values() if d.node is original and d.path == self.shown),
            None,
        )
        if definition is None or definition.neutral:
            return updated
        self.definitions.add(definition.converts)
        where = original.decorators[self._decorator_index(original)]
        construct = self._code(where.decorator)
        for problem, step, section in definition.plan.problems + definition.kept:
            self.report(where, "definition", f"@{construct}: {problem}", step, section)
        if not definition.converts:
            return updated
        for problem, step, section in definition.plan.notes:
            self.report(where, "definition", f"@{construct}: {problem}", step, section, converted=True)
        result = updated
        if definition.bound is not None and definition.bound.function is not None:
            # The body of the bound conversion was computed on the original; keep this pass's
            # rewrites (call sites) by converting the updated node the same way.
            from lexigram_compat.migrate.bodies import convert_bound

            converted = convert_bound(updated, self.info.wrapper.module).function
            if converted is not None:
                result = converted
                self.needs.add("JobContext")
                if definition.bound.retries:
                    self.needs.add("Retry")
        index = self._decorator_index(original)
        decorators = list(result.decorators)
        assert definition.plan.decorator is not None
        decorators[index] = decorators[index].with_changes(
            decorator=cst.parse_expression(definition.plan.decorator)
        )
        for schedule in reversed(definition.schedules):
            decorators.insert(index, cst.Decorator(cst.parse_expression(schedule)))
            self.needs.add("scheduled")
        self.needs |= definition.plan.needs
        return result.with_changes(decorators=decorators)

    def _decorator_index(self, node: cst.FunctionDef) -> int:
        from lexigram_compat.migrate.definitions import task_decorator_index

        index = task_decorator_index(node, self.info.imports)
        return 0 if index is None else index

    def leave_Decorator(self, original: cst.Decorator, updated: cst.Decorator) -> cst.Decorator:
        return updated  # a definition's options are reported with it (leave_FunctionDef)

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        names = [(dotted(t.target) or "").rsplit(".", 1)[-1].lower() for t in original.targets]
        if any(name.endswith("task_always_eager") for name in names):
            step = ("eager mode runs only the tasks left on the shim: the converted @task calls enqueue; run "
                    "the tests on the memory engine (lexigram_compat.testing) and drain it")  # fmt: skip
            self.report(original, "other", self._code(original), step, "testing")
        return updated

    # -- beat entries ------------------------------------------------------------------
    def leave_Dict(self, original: cst.Dict, updated: cst.Dict) -> cst.Dict:
        removed = self.info.removed_entries
        if not any(id(e) in removed for e in original.elements):
            return updated
        kept = [
            new
            for old, new in zip(original.elements, updated.elements, strict=True)
            if id(old) not in removed
        ]
        if kept and isinstance(updated.elements[-1].comma, cst.Comma) is False:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return updated.with_changes(elements=kept)

    # -- call sites and what has no neutral counterpart --------------------------------
    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = original.func
        name = dotted(func) or ""
        qualified = self.info.imports.qualify(func) or ""
        if isinstance(func, cst.Attribute) and func.attr.value in ENQUEUE_METHODS:
            return self._call_site(original, updated)
        direct = self._definition(func) if isinstance(func, cst.Name | cst.Attribute) else None
        if direct is not None and direct.converts and not direct.neutral:
            return self._direct_call(original, updated, direct)
        if qualified.rsplit(".", 1)[-1] in _CANVAS_FUNCTIONS and qualified.startswith(
            ("celery", "lexigram_compat")
        ):
            self.report(
                original,
                "other",
                self._code(original),
                "canvas has no neutral counterpart: enqueue the "
                "next task at the end of each task, or keep this workflow on Celery",
                "canvas",
            )
        elif (
            isinstance(func, cst.Attribute)
            and func.attr.value in _CANVAS_METHODS
            and self._definition(func.value) is not None
        ):
            self.report(
                original,
                "other",
                self._code(original),
                "task.chunks/map/starmap have no neutral "
                "counterpart: enqueue one job per item (enqueue_many)",
                "canvas",
            )
        elif name.endswith("AsyncResult") or qualified.endswith(".AsyncResult"):
            self.report(
                original,
                "other",
                self._code(original),
                "results are read from the job record: queue.get_job(job_id) (JobInfo.status / .result)",
                "results",
            )
        elif (
            isinstance(func, cst.Attribute)
            and func.attr.value == "get"
            and any(a.keyword is not None and a.keyword.value in _RESULT_KEYWORDS for a in original.args)
        ):
            self.report(
                original,
                "other",
                self._code(original),
                "a blocking .get() on a job has no neutral "
                "counterpart: poll queue.get_job(job_id), or restructure so the task enqueues its "
                "follow-up",
                "results",
            )
        elif isinstance(func, cst.Attribute) and func.attr.value == "apply" and self._definition(func.value):
            self.report(
                original,
                "other",
                self._code(original),
                "eager .apply(): run the task with "
                "task.run(...) or on the memory engine (lexigram_compat.testing)",
                "testing",
            )
        elif name.endswith(".control." + (func.attr.value if isinstance(func, cst.Attribute) else "")):
            self.report(
                original,
                "other",
                self._code(original),
                "remote control (revoke/inspect) has no neutral "
                "counterpart: queue.cancel(job_id) cancels a job not yet started; "
                "lexigram-compat workers lists workers",
                "remote-control",
            )
        elif qualified.endswith("Celery") and qualified.startswith(("celery", "lexigram_compat.celery")):
            return self._app(original, updated)
        else:
            self._patch_target(original)
        return updated

    def _call_site(self, original: cst.Call, updated: cst.Call) -> cst.BaseExpression:
        func = original.func
        assert isinstance(func, cst.Attribute)
        method = func.attr.value
        definition = self._definition(func.value)
        self_call = isinstance(func.value, cst.Name) and func.value.value == "self"
        parent = self.get_metadata(ParentNodeProvider, original)
        if isinstance(parent, cst.Attribute) and parent.attr.value == "get":
            self.report(
                original,
                "call",
                self._code(original) + ".get()",
                "a blocking .get() on the job has no "
                "neutral counterpart: poll queue.get_job(job_id), or let the task enqueue its follow-up; "
                "the call stays on the shim",
                "results",
            )
            converted = False
        elif self_call:
            converted = False  # self.apply_async inside a bound task: the task stays on the shim
        elif _is_signature(func.value):
            step = ("a signature or workflow enqueued: canvas has no neutral counterpart; enqueue the task "
                    "with all its arguments, or keep the workflow on Celery")  # fmt: skip
            self.report(original, "call", self._code(original), step, "canvas")
            converted = False
        elif definition is None:
            self.report(
                original,
                "call",
                self._code(original),
                "the task object is chosen at run time (or defined outside the given paths): the call "
                "stays on the shim's ." + method + "; its candidate tasks must stay on the shim too",
                "tasks-chosen-at-run-time",
            )
            converted = False
        elif not definition.converts:
            self.report(
                original,
                "call",
                self._code(original),
                f"the task stays on the shim ({definition.path}:{definition.line}): the call stays ."
                f"{method} and works as it is",
                "call-sites",
            )
            converted = False
        else:
            assert isinstance(updated.func, cst.Attribute)
            result = enqueue_of(updated, updated.func.value, method, bool(self._async and self._async[-1]))
            if result.expression is None:
                self.report(original, "call", self._code(original), result.problem or "", result.section)
                converted = False
            else:
                self.calls.add(True)
                self.needs.add("current_app")
                self._note_value_use(original)
                self._converted_calls.add(id(result.expression))
                return result.expression
        self.calls.add(converted)
        return updated

    def _note_value_use(self, original: cst.Call) -> None:
        parent = self.get_metadata(ParentNodeProvider, original)
        if isinstance(parent, cst.Expr | cst.Lambda):
            return
        if isinstance(parent, cst.Attribute) and parent.attr.value == "id":
            return  # rewritten to .unwrap() by leave_Attribute
        if isinstance(parent, cst.Assign) and len(parent.targets) == 1:
            target = parent.targets[0].target
            if isinstance(target, cst.Name):
                self._results[-1].add(target.value)  # its .id reads become .unwrap()
        self.report(
            original,
            "call",
            self._code(original),
            "the value is now a Result[str, TaskQueueError] (the job id: .unwrap()), not an AsyncResult",
            "call-sites",
            converted=True,
        )

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if original.attr.value == "id" and id(updated.value) in self._converted_calls:
            value = updated.value
            if isinstance(value, cst.Await):  # (await queue.enqueue(...)).unwrap()
                value = value.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
            return cst.Call(cst.Attribute(value, cst.Name("unwrap")))
        if (
            original.attr.value == "id"
            and isinstance(updated.value, cst.Name)
            and updated.value.value in self._results[-1]
        ):
            return cst.Call(cst.Attribute(updated.value, cst.Name("unwrap")))
        return updated

    def _direct_call(self, original: cst.Call, updated: cst.Call, definition: Definition) -> cst.Call:
        """Calling a Celery task runs it here; calling a neutral task only builds a TaskCall:
        ``task(...)`` becomes ``task.run(...)``."""
        converted = definition.bound.function if definition.bound is not None else None
        uses_context = converted is not None and any(
            dotted(p.annotation.annotation) == "JobContext"
            for p in converted.params.kwonly_params
            if p.annotation
        )
        code = self._code(original)
        if uses_context:
            step = "a bound task called directly: task.run() cannot supply its JobContext (use memory)"
            self.report(original, "other", code, step, "testing")
        else:
            step = "calling the task ran it here (Celery); now task.run(...) does"
            self.report(original, "other", code, step, "call-sites", converted=True)
        return updated.with_changes(func=cst.Attribute(updated.func, cst.Name("run")))

    def leave_BinaryOperation(
        self, original: cst.BinaryOperation, updated: cst.BinaryOperation
    ) -> cst.BinaryOperation:
        if (
            isinstance(original.operator, cst.BitOr)
            and all(
                isinstance(side, cst.Call)
                and isinstance(side.func, cst.Attribute)
                and side.func.attr.value in _SIGNATURE_METHODS
                for side in (original.left, original.right)
                if not isinstance(side, cst.BinaryOperation)
            )
            and not isinstance(self.get_metadata(ParentNodeProvider, original), cst.BinaryOperation)
        ):
            self.report(
                original,
                "other",
                self._code(original),
                "a chain (|) has no neutral counterpart: enqueue the next task at the end of each task",
                "canvas",
            )
        return updated

    def _app(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        keywords = {a.keyword.value for a in original.args if a.keyword is not None}
        for argument in sorted(k for k in keywords if app_argument_refused(k) and k != "task_cls"):
            step = (
                "the shim's Celery refuses it: pass broker, backend, include or config (the tasks: section)"
            )
            self.report(original, "other", f"Celery(..., {argument}=...)", step, "app-construction")
        if "task_cls" in keywords:
            self.report(
                original,
                "other",
                "Celery(..., task_cls=...)",
                "an app-wide Task class has no neutral "
                "counterpart: move its hooks to app.hooks (lifecycle hooks)",
                "app-construction",
            )
        if "registry" in keywords:
            return updated
        self.needs.add("default_registry")
        self.report(
            original,
            "other",
            self._code(original),
            "the app now declares and enqueues the neutral @task declarations (registry=default_registry)",
            "app-construction",
            converted=True,
        )
        registry = cst.Arg(
            cst.Name("default_registry"),
            keyword=cst.Name("registry"),
            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace("")),
        )
        args = list(updated.args)
        if args:
            last = args[-1]
            if not isinstance(last.comma, cst.Comma):
                args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        return updated.with_changes(args=[*args, registry])

    def _patch_target(self, original: cst.Call) -> None:
        """``mock.patch("...task.delay")`` (an f-string target by its literal tail), or
        ``mock.patch.object(task, "delay")``, of a converted task: reported, as the neutral task
        has no ``.delay`` to patch."""
        for definition, method in patched(self.project, self.info, original):
            if definition.converts and not definition.neutral:
                self.report(
                    original,
                    "other",
                    self._code(original),
                    f"the task is now a neutral @task (no .{method}): patch '{definition.qualname}' callers' "
                    "enqueue, or run the test on the memory engine (lexigram_compat.testing) and assert on "
                    "the job",
                    "testing",
                )
