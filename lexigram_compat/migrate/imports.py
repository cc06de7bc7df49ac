"""Adding the imports a converted file needs and dropping ``shared_task`` once unused.

Hand-written instead of libcst's ``AddImportsVisitor``/``RemoveImportsVisitor``: those
build a full scope analysis per file, which made a run over a few hundred files take
minutes; a converted file only ever needs names added to (or one name dropped from) its
module-level ``from X import ...`` statements.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import libcst as cst
import libcst.matchers as m

from lexigram_compat.migrate.names import dotted

__all__ = ["add_imports", "drop_unused"]


def _from_module(statement: cst.BaseStatement) -> tuple[str, cst.ImportFrom] | None:
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    node = statement.body[0]
    if not isinstance(node, cst.ImportFrom) or node.relative or isinstance(node.names, cst.ImportStar):
        return None
    return dotted(node.module) or "", node


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(s, cst.Import | cst.ImportFrom) for s in statement.body
    )


def _bound(names: Sequence[cst.ImportAlias]) -> set[str]:
    """The names an import binds (its aliases' ``as`` names where given)."""
    bound = set()
    for alias in names:
        local = alias.asname.name if alias.asname is not None else None
        bound.add(local.value if isinstance(local, cst.Name) else dotted(alias.name) or "")
    return bound


def _extend(node: cst.ImportFrom, names: list[str]) -> cst.ImportFrom:
    assert not isinstance(node.names, cst.ImportStar)
    aliases = list(node.names)
    last = aliases[-1]
    trailing = last.comma
    aliases[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
    added = [cst.ImportAlias(cst.Name(n), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
             for n in names]  # fmt: skip
    added[-1] = added[-1].with_changes(comma=trailing)
    return node.with_changes(names=[*aliases, *added])


def add_imports(module: cst.Module, needed: Mapping[str, str]) -> cst.Module:
    """``module`` with each ``name`` of ``needed`` (name -> module) imported at module level:
    appended to an existing ``from module import ...``, else in a new statement after the
    file's last top-level import."""
    body = list(module.body)
    by_module: dict[str, list[str]] = {}
    bound: set[str] = set()
    for statement in body:
        found = _from_module(statement)
        if found is not None:
            assert not isinstance(found[1].names, cst.ImportStar)
            bound |= _bound(found[1].names)
    for name, source in sorted(needed.items()):
        if name not in bound:
            by_module.setdefault(source, []).append(name)
    for source, names in by_module.items():
        for index, statement in enumerate(body):
            found = _from_module(statement)
            if found is not None and found[0] == source:
                assert isinstance(statement, cst.SimpleStatementLine)
                body[index] = statement.with_changes(body=[_extend(found[1], names)])
                break
        else:
            position = max(
                (i + 1 for i, s in enumerate(body) if _is_import(s)), default=_after_docstring(body)
            )
            new = cst.parse_statement(f"from {source} import {', '.join(names)}\n")
            body.insert(position, new)
    return module.with_changes(body=body)


def _after_docstring(body: Sequence[cst.BaseStatement]) -> int:
    if body and m.matches(body[0], m.SimpleStatementLine(body=[m.Expr(m.SimpleString())])):
        return 1
    return 0


def drop_unused(module: cst.Module, source: str, name: str) -> cst.Module:
    """``module`` without ``from source import name`` when nothing else uses ``name``."""
    uses = m.findall(module, m.Name(name))
    body = list(module.body)
    for index, statement in enumerate(body):
        found = _from_module(statement)
        if found is None or found[0] != source:
            continue
        node = found[1]
        assert not isinstance(node.names, cst.ImportStar)
        aliases = [a for a in node.names if dotted(a.name) == name and a.asname is None]
        if not aliases or len(uses) > len(aliases):
            return module
        kept = [a for a in node.names if a not in aliases]
        if not kept:
            del body[index]
        else:
            kept[-1] = kept[-1].with_changes(comma=node.names[-1].comma)
            assert isinstance(statement, cst.SimpleStatementLine)
            body[index] = statement.with_changes(body=[node.with_changes(names=kept)])
        return module.with_changes(body=body)
    return module
