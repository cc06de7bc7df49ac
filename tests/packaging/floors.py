"""The dependency floors of pyproject.toml as pip constraints (``name==floor``).

``scripts/test-packaging`` installs ``.venv-lowest`` with these constraints and runs the
conformance suite there, so every ``>=`` in pyproject.toml is a tested version, not a guess.

Usage: ``python tests/packaging/floors.py > constraints.txt``
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]


def floors(pyproject: Path = ROOT / "pyproject.toml") -> dict[str, str]:
    """Each runtime dependency's lowest allowed version, from its ``>=`` specifier.

    Args:
        pyproject: The project file to read.

    Returns:
        Distribution name to version, over ``dependencies`` and every extra.

    Raises:
        ValueError: A dependency has no ``>=`` floor, or two lines give it different floors.
    """
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        lines.extend(extra)
    found: dict[str, str] = {}
    for line in lines:
        req = Requirement(line)
        if req.name == "lexigram-compat":
            continue
        lows = [spec.version for spec in req.specifier if spec.operator == ">="]
        if len(lows) != 1:
            raise ValueError(f"{line!r} in pyproject.toml has no single '>=' floor; add one to test it")
        if found.setdefault(req.name, lows[0]) != lows[0]:
            raise ValueError(
                f"{req.name} has two floors ({found[req.name]} and {lows[0]}); give every line the same"
            )
    return found


def main() -> None:
    """Print the constraints, one ``name==version`` per line."""
    for name, version in sorted(floors().items()):
        print(f"{name}=={version}")


if __name__ == "__main__":
    main()
