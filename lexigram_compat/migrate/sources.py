"""Finding the Python files under the given paths, parsing them with libcst, and the
safety checks on an output: it must compile (or, for syntax newer than this interpreter,
parse), and it is written only when it differs."""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

__all__ = ["SourceFile", "discover", "module_name", "output_problem", "read", "unified_diff"]

_SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".tox",
    ".mypy_cache",
    ".ruff_cache",
    "build",
    "dist",
    "site-packages",
}


@dataclass
class SourceFile:
    """One file: its text, its module name, and its tree (None when it did not parse)."""

    path: Path
    shown: str
    module: str
    text: str
    tree: cst.Module | None
    error: str | None = None
    compiles: bool = True
    """Whether this interpreter compiles the original (False for newer syntax libcst parses)."""


def discover(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str]]:
    """Each ``.py`` file under ``paths`` (sorted, skipping virtualenvs and caches), with the
    name it is shown under."""
    for given in paths:
        root = Path(given)
        if not root.exists():
            raise FileNotFoundError(f"PATH {str(given)!r} does not exist")
        if root.is_file():
            yield root, str(given)
            continue
        for directory, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith("."))
            for name in sorted(files):
                if name.endswith(".py"):
                    path = Path(directory) / name
                    yield path, str(path)


def module_name(path: Path) -> str:
    """The dotted module name of ``path``: its directories up to the last one holding an
    ``__init__.py`` are its packages (a Django app's ``tasks.py`` is ``app.tasks``)."""
    parts = [path.stem] if path.stem != "__init__" else []
    directory = path.resolve().parent
    while (directory / "__init__.py").exists():
        parts.insert(0, directory.name)
        directory = directory.parent
    return ".".join(parts)


def _compiles(text: str, shown: str) -> bool:
    try:
        compile(text, shown, "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return False
    return True


def read(path: Path, shown: str) -> SourceFile:
    """Read and parse ``path``; a file libcst cannot parse gets ``tree=None`` and the error."""
    module = module_name(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return SourceFile(path, shown, module, "", None, f"cannot read: {exc}")
    try:
        tree = cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        return SourceFile(path, shown, module, text, None, f"line {exc.raw_line}: {exc.message}")
    return SourceFile(path, shown, module, text, tree, compiles=_compiles(text, shown))


def output_problem(source: SourceFile, new_text: str) -> str | None:
    """Why ``new_text`` must not replace ``source`` (None: it is safe to write).

    An original this interpreter compiles must still compile; one in newer syntax (such
    as Python 3.14's ``except A, B:``) must still parse with libcst's parser."""
    if source.compiles:
        try:
            compile(new_text, source.shown, "exec", dont_inherit=True)
        except SyntaxError as exc:
            return f"the converted file would not compile (line {exc.lineno}: {exc.msg})"
        return None
    try:
        cst.parse_module(new_text)
    except cst.ParserSyntaxError as exc:
        return f"the converted file would not parse (line {exc.raw_line}: {exc.message})"
    return None


def unified_diff(source: SourceFile, new_text: str) -> str:
    """The change as a unified diff (``a/PATH`` to ``b/PATH``)."""
    return "".join(
        difflib.unified_diff(
            source.text.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"a/{source.shown.lstrip('/')}",
            tofile=f"b/{source.shown.lstrip('/')}",
        )
    )
