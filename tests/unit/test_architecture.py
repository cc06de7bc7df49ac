"""The layering the engine contract promises (docs/architecture.md), checked on the
source: the core never imports an adapter, no import circle runs through the
contract modules, policy pieces exist once (one DeadLetter builder, one Redis
ledger, no fire-time string convention) and no two classes share a name."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "lexigram_compat"
CONTRACT = {
    "lexigram_compat.engine_contract",
    "lexigram_compat.ledger",
    "lexigram_compat.outcomes",
    "lexigram_compat.letters",
}
"""What adapters build on: below the core and the adapters alike."""
FRONT_ENDS = ("lexigram_compat.cli",)
"""Commands may name an engine's own tools (``db migrate`` is PostgreSQL's)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def sources() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")}


def imports_of(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Package modules ``name`` imports, TYPE_CHECKING imports included."""
    found: set[str] = set()
    package = name if name + ".__init__" in known else name.rpartition(".")[0]
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for imported in targets:
            target = imported
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    trees = sources()
    known = set(trees) | {f"{n}.__init__" for n, t in trees.items() if n}
    return {name: imports_of(name, tree, known) for name, tree in trees.items()}


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = set()
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.add(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(component)

    for node in edges:
        if node not in index:
            visit(node)
    return found


def is_adapter(name: str) -> bool:
    return name.startswith("lexigram_compat.adapters")


def test_the_core_never_imports_an_adapter() -> None:
    offenders = {
        name: sorted(t for t in targets if is_adapter(t))
        for name, targets in graph().items()
        if not is_adapter(name) and not name.startswith(FRONT_ENDS)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_contract_modules_import_nothing_above_them() -> None:
    edges = graph()
    allowed_prefixes = ("lexigram_compat.envelope", "lexigram_compat.queue", "lexigram_compat.errors",
                        "lexigram_compat.serialization", "lexigram_compat.result")  # fmt: skip
    for name in CONTRACT:
        above = {t for t in edges[name] if t not in CONTRACT and not t.startswith(allowed_prefixes)}
        # Types named only for signatures (config, registry, settle...) are imported
        # under TYPE_CHECKING; none of them may lead back into the contract.
        for target in above:
            assert not (reachable(edges, target) & CONTRACT - {"lexigram_compat.letters"}) or (
                name not in reachable(edges, target)
            ), f"{name} -> {target} closes a circle through the contract"


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in edges.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_circle_runs_through_the_contract_or_across_the_adapter_line() -> None:
    for component in cycles(graph()):
        contract = sorted(m for m in component if m in CONTRACT)
        assert not contract, f"an import circle runs through {contract}: {sorted(component)}"
        # Modules of one adapter may name each other's types; an adapter and the
        # core may not need each other.
        sides = {is_adapter(m) for m in component}
        assert len(sides) == 1, f"an import circle crosses the adapter line: {sorted(component)}"


def test_one_place_builds_a_dead_letter() -> None:
    builders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "DeadLetter":
                builders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert builders, "the check itself must find the one builder"
    assert {b.partition(":")[0] for b in builders} == {"letters.py"}, builders


def test_no_fire_time_string_convention_and_one_redis_ledger() -> None:
    texts = {p: p.read_text() for p in PACKAGE.rglob("*") if p.suffix in {".py", ".lua", ".sql"}}
    assert [str(p) for p, text in texts.items() if re.search(r"[\"']schedule:", text)] == []
    # Other Lua may translate a broker's own structures (Dramatiq's acks set); only one keeps records.
    ledgers = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.lua") if '"job:"' in p.read_text())
    assert ledgers == ["adapters/redis_ledger.lua"], (
        "one Redis ledger script serves every Redis-backed engine"
    )
    python_stores = [p for p in PACKAGE.rglob("*.py") if re.search(r"\b(hset|zadd)\b.*job:", p.read_text())]
    assert python_stores == [], "job records are written by the ledger script only"


def test_no_two_classes_share_a_name() -> None:
    names: Counter[str] = Counter()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef):
                names[node.name] += 1
    assert sorted(n for n, count in names.items() if count > 1) == []
