"""Uses of a task object that only the shim's task serves, found in the first pass: the task
then stays on the shim, so they keep working in the converted project.

- a signature enqueued as it stands: ``task.s(...).delay(...)``, ``task.si(...).set(...)
  .apply_async()``, ``task.signature(...).apply_async()`` (the shim merges the arguments as
  Celery does; the neutral ``task.s`` takes every argument at once). A signature in a
  chain/group/chord is reported as canvas, not kept: the shim has no canvas either;
- ``bind=True`` under other decorators: Celery passes the task (``self``) through them, and
  the codemod cannot see what they do with it.

Also :func:`patched`: the tasks a ``mock.patch`` call patches the ``.delay``/``.apply_async``
of (reported where the patch stands when the task converts: the guide's "Testing").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import libcst as cst
from libcst.metadata import ParentNodeProvider

from lexigram_compat.migrate.calls import ENQUEUE_METHODS
from lexigram_compat.migrate.names import dotted

if TYPE_CHECKING:
    from lexigram_compat.migrate.analysis import Definition, FileInfo, Project

__all__ = ["keep_bound_under_decorators", "keep_shim_only_uses", "patched"]

_SIGNATURE_METHODS = {"s", "si", "signature"}
_PATCHES = {"mock.patch", "patch", "unittest.mock.patch"}
_PATCH_OBJECTS = {"mock.patch.object", "patch.object", "unittest.mock.patch.object"}


def _enqueued(call: cst.Call, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> bool:
    """Whether signature ``call`` is enqueued as it stands (through any ``.set(...)``)."""
    node: cst.CSTNode = call
    while True:
        parent = parents.get(node)
        if not isinstance(parent, cst.Attribute) or parent.value is not node:
            return False
        if parent.attr.value in ENQUEUE_METHODS:
            return True
        outer = parents.get(parent)
        if parent.attr.value != "set" or not isinstance(outer, cst.Call):
            return False
        node = outer


def _patch_target_tail(call: cst.Call) -> tuple[str, bool] | None:
    """The dotted target of ``mock.patch(target)`` and whether it is whole (a literal), or
    its literal tail (an f-string ending in text); None when neither."""
    if not call.args:
        return None
    value = call.args[0].value
    if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
        return value.evaluated_value, True
    if isinstance(value, cst.FormattedString) and isinstance(value.parts[-1], cst.FormattedStringText):
        return value.parts[-1].value, False
    return None


def patched(project: Project, info: FileInfo, call: cst.Call) -> list[tuple[Definition, str]]:
    """The tasks a ``mock.patch`` call patches the enqueue method of, with that method."""
    name = dotted(call.func) or ""
    if name in _PATCH_OBJECTS and len(call.args) >= 2:
        attribute = call.args[1].value
        definition = project.definitions.get(info.imports.qualify(call.args[0].value) or "")
        if definition is not None and isinstance(attribute, cst.SimpleString):
            method = attribute.evaluated_value
            return [(definition, str(method))] if method in ENQUEUE_METHODS else []
        return []
    target = _patch_target_tail(call) if name in _PATCHES else None
    if target is None:
        return []
    text, whole = target
    owner, _, method = text.rpartition(".")
    if method not in ENQUEUE_METHODS or not owner:
        return []
    if whole:
        found = project.definitions.get(owner)
        return [(found, method)] if found is not None else []
    function = owner.rpartition(".")[2]
    return [(d, method) for d in project.definitions.values() if d.qualname.rpartition(".")[2] == function]


def keep_shim_only_uses(project: Project, info: FileInfo) -> None:
    """Keep on the shim each task of ``info``'s file whose signature is enqueued there."""
    parents = info.wrapper.resolve(ParentNodeProvider)
    for node in parents:
        if not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
            continue
        definition = project.definitions.get(info.imports.qualify(node.func.value) or "")
        method = node.func.attr.value
        if definition is None or definition.neutral or method not in _SIGNATURE_METHODS:
            continue
        if _enqueued(node, parents):
            where = f"{info.source.shown}:{info.line_of(node)}"
            construct = f".{method}(...) enqueued at {where}"
            step = ("the task stays on the shim, whose .s/.si/.signature work as Celery's (the neutral "
                    "task.s takes every argument at once); convert it once callers enqueue it with all its "
                    "arguments")  # fmt: skip
            if all(kept[0] != construct for kept in definition.kept):
                definition.kept.append((construct, step, "canvas"))


def keep_bound_under_decorators(definition: Definition, index: int) -> None:
    """A ``bind=True`` task with decorators between ``@task`` and the function (``index``
    is the task decorator's) stays on the shim: they are given ``self``."""
    below = definition.node.decorators[index + 1 :]
    if below:
        names = ", ".join(
            "@" + (dotted(d.decorator.func if isinstance(d.decorator, cst.Call) else d.decorator) or "...")
            for d in below
        )
        step = (f"Celery passes self through {names}; the neutral task has no self: keep the task on the "
                "shim, or change the decorators to take no self and convert it by hand")  # fmt: skip
        definition.kept.append((f"bind=True under {names}", step, "bound-tasks"))
