"""Names: what a module's imports bind, the Celery modules the shim replaces, and the names
each shim module provides (read from the shim's own ``__all__``, never restated)."""

from __future__ import annotations

import functools
import importlib

import libcst as cst

__all__ = [
    "SHIM_MODULES",
    "ImportMap",
    "dotted",
    "shim_exports",
]

SHIM_MODULES = {
    "celery": "lexigram_compat.celery",
    "celery.schedules": "lexigram_compat.celery.schedules",
    "celery.exceptions": "lexigram_compat.celery.exceptions",
    "celery.signals": "lexigram_compat.celery.signals",
    "celery.result": "lexigram_compat.celery.result",
    "celery.states": "lexigram_compat.celery.states",
}
"""Each Celery module whose names the shim provides, and the shim module providing them."""


@functools.cache
def shim_exports(celery_module: str) -> frozenset[str]:
    """The names ``lexigram_compat``'s counterpart of ``celery_module`` provides."""
    target = SHIM_MODULES.get(celery_module)
    if target is None:
        return frozenset()
    return frozenset(getattr(importlib.import_module(target), "__all__", ()))


def dotted(node: cst.BaseExpression | None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def _absolute(module: str, package: str, node: cst.ImportFrom) -> str:
    level = len(node.relative)
    name = dotted(node.module) if node.module is not None else ""
    if level == 0:
        return name or ""
    base = package.split(".") if package else []
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


class ImportMap(cst.CSTVisitor):
    """Local name -> fully qualified name, for the imports of one module (a function's own
    imports included: test functions import the task they exercise)."""

    def __init__(self, module: str, is_package: bool = False) -> None:
        super().__init__()
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.names: dict[str, str] = {}

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = dotted(alias.name) or ""
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                self.names[alias.asname.name.value] = full
            else:
                head = full.split(".")[0]
                self.names[head] = head

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if isinstance(node.names, cst.ImportStar):
            return
        source = _absolute(self.module, self.package, node)
        for alias in node.names:
            name = alias.name.value if isinstance(alias.name, cst.Name) else dotted(alias.name) or ""
            local = (
                alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
            )
            self.names[local] = f"{source}.{name}" if source else name

    def qualify(self, expression: cst.BaseExpression) -> str | None:
        """The qualified name of ``a.b`` as this module's imports bind ``a`` (None when
        ``a`` is not imported: a module-level name is qualified with this module)."""
        text = dotted(expression)
        if text is None:
            return None
        head, _, rest = text.partition(".")
        base = self.names.get(head, f"{self.module}.{head}")
        return f"{base}.{rest}" if rest else base
