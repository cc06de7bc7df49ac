"""The engines the conformance suite runs on: one module per engine family.

Each module here exposes ``SPECS: list[EngineSpec]`` (``memory``, ``postgres``,
``dramatiq-redis``...); :func:`discover` collects them, so adding an engine
touches no shared file. ``LEXIGRAM_CONFORMANCE_ENGINES=postgres,memory``
restricts a run to some keys (an unknown key is an error naming the known ones).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Mapping

from ..harness import EngineSpec

__all__ = ["ONLY_ENV", "discover"]

ONLY_ENV = "LEXIGRAM_CONFORMANCE_ENGINES"
FIRST = "memory"
"""Listed first: the reference engine, whose capability fields name the flags."""


def discover(environ: Mapping[str, str] | None = None) -> dict[str, EngineSpec]:
    """Every engine's spec by key (``memory`` first), filtered by :data:`ONLY_ENV`."""
    found: dict[str, EngineSpec] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: (i.name != FIRST, i.name)):
        module = importlib.import_module(f"{__name__}.{info.name}")
        specs: list[EngineSpec] = module.SPECS
        for spec in specs:
            if spec.key in found:
                raise RuntimeError(f"engine key {spec.key!r} is declared twice (again in {module.__name__})")
            found[spec.key] = spec
    env = os.environ if environ is None else environ
    only = [key.strip() for key in env.get(ONLY_ENV, "").split(",") if key.strip()]
    unknown = [key for key in only if key not in found]
    if unknown:
        raise RuntimeError(f"{ONLY_ENV} names unknown engines {unknown}; known: {', '.join(found)}")
    return {key: spec for key, spec in found.items() if not only or key in only}
