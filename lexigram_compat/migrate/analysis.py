"""The first pass over the whole project: every task definition and whether it converts,
the tasks chosen at run time (kept on the shim so their ``.delay`` keeps working), and the
beat entries that can move to ``@scheduled``. The second pass (:mod:`.transform`) rewrites
each file with what this one decided, so a call site in one file and the definition in
another agree."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider

from lexigram_compat.migrate.bodies import BoundBody, convert_bound
from lexigram_compat.migrate.definitions import DefinitionPlan, plan_definition, task_decorator_index
from lexigram_compat.migrate.findings import Counts, Finding
from lexigram_compat.migrate.names import ImportMap
from lexigram_compat.migrate.shim_uses import keep_bound_under_decorators, keep_shim_only_uses
from lexigram_compat.migrate.sources import SourceFile

__all__ = ["Definition", "Project", "analyse"]

_NEUTRAL_TASK = {"lexigram_compat.task", "lexigram_compat.tasks.task", "lexigram_compat.scheduled"}


@dataclass
class Definition:
    """One Celery task definition and the decision about it."""

    qualname: str
    task_name: str
    path: str
    line: int
    node: cst.FunctionDef
    plan: DefinitionPlan
    bound: BoundBody | None = None
    kept: list[tuple[str, str, str]] = field(default_factory=list)
    """(construct, step, section) for each reason it stays on the shim."""
    schedules: list[str] = field(default_factory=list)
    """``scheduled(...)`` decorators moved here from beat entries."""
    neutral: bool = False
    """Already a neutral ``@task`` (an earlier run converted it): its call sites convert."""

    @property
    def converts(self) -> bool:
        return self.neutral or (self.plan.decorator is not None and not self.plan.problems and not self.kept)


@dataclass
class FileInfo:
    source: SourceFile
    wrapper: MetadataWrapper
    imports: ImportMap
    removed_entries: set[int] = field(default_factory=set)
    """``id()`` of the beat entries (dict elements) that moved to ``@scheduled``."""

    def line_of(self, node: cst.CSTNode) -> int:
        return self.wrapper.resolve(PositionProvider)[node].start.line


@dataclass
class Project:
    """Everything the first pass found."""

    files: dict[str, FileInfo] = field(default_factory=dict)
    definitions: dict[str, Definition] = field(default_factory=dict)
    """By qualified name (``module.function``)."""
    findings: list[Finding] = field(default_factory=list)
    """What the first pass left (beat entries)."""
    schedules: Counts = field(default_factory=Counts)

    def by_task_name(self, name: str) -> Definition | None:
        for definition in self.definitions.values():
            if definition.task_name == name:
                return definition
        return None


def _task_name(definition_node: cst.FunctionDef, plan: DefinitionPlan, module: str) -> str:
    code = plan.options.get("name")
    if code is not None and code[:1] in "'\"":
        return code.strip("'\"")
    return f"{module}.{definition_node.name.value}"


def _collect_definitions(project: Project, info: FileInfo) -> None:
    module = info.wrapper.module
    for statement in module.body:
        node = statement
        if not isinstance(node, cst.FunctionDef):
            continue
        index = task_decorator_index(node, info.imports)
        if index is None:
            if any(
                info.imports.qualify(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator)
                in _NEUTRAL_TASK
                for d in node.decorators
            ):
                qualname = f"{info.source.module}.{node.name.value}"
                project.definitions[qualname] = Definition(
                    qualname,
                    qualname,
                    info.source.shown,
                    info.line_of(node),
                    node,
                    DefinitionPlan(),
                    neutral=True,
                )
            continue
        body = module.code_for_node(node.body)
        plan = plan_definition(node.decorators[index], module, "retry(" in body)
        if "MaxRetriesExceededError" in body and plan.decorator is not None:
            step = (
                "the neutral Retry dead-letters the job when attempts run out (no exception to catch): move "
                "the handler to a dead-letter hook (app.hooks), or keep the task on the shim"
            )
            plan.problems.append(("except MaxRetriesExceededError", step, "bound-tasks"))
        qualname = f"{info.source.module}.{node.name.value}"
        definition = Definition(
            qualname,
            _task_name(node, plan, info.source.module),
            info.source.shown,
            info.line_of(node.decorators[index]),
            node,
            plan,
        )
        if plan.decorator is not None and plan.bind:
            definition.bound = convert_bound(node, module)
            for problem in definition.bound.problems:
                definition.kept.append(
                    (
                        problem,
                        "no neutral counterpart for this use of the bound task: "
                        "keep the task on the shim, or rewrite it by hand",
                        "bound-tasks",
                    )
                )
            keep_bound_under_decorators(definition, index)
        project.definitions[qualname] = definition


def _run_time_references(project: Project, info: FileInfo) -> None:
    """A task referenced as a value (put in a dict, passed, assigned) may be called through
    another name at run time, where the codemod cannot see which task: keep it on the shim."""
    parents = info.wrapper.resolve(ParentNodeProvider)
    skipped = (
        cst.ImportAlias,
        cst.AsName,
        cst.FunctionDef,
        cst.ClassDef,
        cst.Param,
        cst.Decorator,
        cst.ImportFrom,
        cst.AssignTarget,
        cst.Attribute,
    )
    for node, parent in parents.items():
        if not isinstance(node, cst.Name) or isinstance(parent, skipped):
            continue  # task.delay, task.name, an import, the def itself, an assignment target
        if isinstance(parent, cst.Call) and parent.func is node:
            continue  # a direct call
        if isinstance(parent, cst.Arg) and parent.keyword is node:
            continue
        qualified = info.imports.qualify(node)
        definition = project.definitions.get(qualified or "")
        if definition is None or any(k[2] == "tasks-chosen-at-run-time" for k in definition.kept):
            continue
        line = info.line_of(node)
        definition.kept.append(
            (
                f"{node.value} referenced as a value at {info.source.shown}:{line}",
                "the task object is chosen at run time, so its .delay/.apply_async calls stay on the shim; "
                "convert the task once every caller enqueues it by name",
                "tasks-chosen-at-run-time",
            )
        )


def analyse(sources: list[SourceFile]) -> Project:
    """The first pass: definitions, run-time references and uses only the shim serves
    (:mod:`.shim_uses`), then beat entries (:mod:`.beat`)."""
    from lexigram_compat.migrate.beat import plan_beat

    project = Project()
    for source in sources:
        if source.tree is None:
            continue
        wrapper = MetadataWrapper(source.tree)
        imports = ImportMap(source.module, source.path.name == "__init__.py")
        wrapper.module.visit(imports)
        project.files[source.shown] = FileInfo(source, wrapper, imports)
    for info in project.files.values():
        _collect_definitions(project, info)
    for info in project.files.values():
        _run_time_references(project, info)
        keep_shim_only_uses(project, info)
    for info in project.files.values():
        plan_beat(project, info)
    return project
