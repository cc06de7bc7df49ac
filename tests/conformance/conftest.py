"""The ``engine`` fixture: every conformance test runs once per engine that can show it.

Markers (registered below):

- ``@pytest.mark.requires("delay", ...)``: generate the test only for engines
  whose capability table declares all of these. Engines without them are not
  skipped: the test simply does not exist for them, and ``test_capabilities``
  checks that they refuse the option instead.
- ``@pytest.mark.tasks_config({...})``: ``tasks:`` settings for this test,
  merged over ``harness.SUITE_SECTION`` and the engine's own section.
- ``@pytest.mark.each_capability(declared=True|False, probed=...)``: generate one
  test per (engine, capability) pair with that declared value; the test gets a
  ``capability`` argument. A pair with no probe is a collection error, so a new
  engine cannot declare a capability the suite never checks.

A test whose parameter list ends up empty (no engine qualifies) is deselected
at collection, never reported as skipped.

Adding an engine (postgres, dramatiq-redis, dramatiq-rabbitmq, celery-redis,
celery-rabbitmq): add a module to ``tests/conformance/engines/`` exposing
``SPECS`` (see ``engines/__init__.py``), whose harness starts the engine's
native worker in a subprocess on ``tests/conformance/worker_app.py``
(``subprocess_harness.SubprocessHarness``), names its server fixtures in
``EngineSpec.fixtures``, and gives each test its own queues / database so runs
are isolated.

Crash safety (``crash.py``, the ``crash_safe`` probe of ``test_capabilities.py``)
runs on engines declaring ``crash_safe``: their harness implements
``kill_worker()`` (SIGKILL of the worker's processes).
``transactional_enqueue`` arrives with postgres: declaring it requires a probe in
``test_capabilities.py`` (collection fails otherwise).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from lexigram_compat.engine_contract import Capabilities

from .engines import discover
from .harness import BASELINE, SUITE_SECTION, EngineHarness, deep_merge

SPECS = discover()
"""How to run the suite on each engine (``tests/conformance/engines/*.py``)."""
ENGINES: list[str] = list(SPECS)
"""Engine keys the suite runs on."""


def capability_flags() -> tuple[str, ...]:
    """The yes/no capabilities of the table (``worker`` is a command, not a flag)."""
    sample = SPECS[ENGINES[0]].capabilities
    return tuple(f.name for f in fields(Capabilities) if isinstance(getattr(sample, f.name), bool))


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "requires(*capabilities): run only on engines declaring these capabilities",
        "tasks_config(section): tasks: settings for this test, merged over the suite's",
        "each_capability(declared, probed): one test per (engine, capability) pair with that value",
        "not_applicable: no engine qualifies for this test; deselected at collection",
    ):
        config.addinivalue_line("markers", line)


def _parametrize(
    metafunc: pytest.Metafunc, names: Sequence[str], rows: Sequence[tuple[str, ...]], ids: list[str]
) -> None:
    if not rows:
        # No engine qualifies. An empty parameter set would be reported as a
        # skip; a placeholder deselected in pytest_collection_modifyitems is not.
        blank = pytest.param(*("" for _ in names), marks=pytest.mark.not_applicable, id="not-applicable")
        metafunc.parametrize(list(names), [blank], indirect=["engine"])
        return
    metafunc.parametrize(list(names), rows, ids=ids, indirect=["engine"])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" not in metafunc.fixturenames:
        return
    flags = capability_flags()
    for key in ENGINES:
        missing = [name for name in BASELINE if not getattr(SPECS[key].capabilities, name)]
        if missing:
            raise RuntimeError(f"engine {key!r} lacks {missing}: the conformance suite cannot observe it")
    each = metafunc.definition.get_closest_marker("each_capability")
    if each is not None:
        declared: bool = each.kwargs["declared"]
        probed: frozenset[str] = frozenset(each.kwargs["probed"])
        pairs = [(k, c) for k in ENGINES for c in flags if getattr(SPECS[k].capabilities, c) is declared]
        unprobed = sorted({f"{k}:{c}" for k, c in pairs if c not in probed})
        if unprobed:
            raise RuntimeError(
                f"{metafunc.definition.name}: no probe for declared={declared} capabilities {unprobed}; "
                "write one in test_capabilities.py (see the note in conformance/conftest.py)"
            )
        _parametrize(metafunc, ("engine", "capability"), pairs, [f"{k}-{c}" for k, c in pairs])
        return
    marker = metafunc.definition.get_closest_marker("requires")
    needed: tuple[str, ...] = marker.args if marker is not None else ()
    unknown = [name for name in needed if name not in flags]
    if unknown:
        raise ValueError(f"{metafunc.definition.name}: unknown capabilities {unknown}; known: {flags}")
    keys = [k for k in ENGINES if all(getattr(SPECS[k].capabilities, name) for name in needed)]
    _parametrize(metafunc, ("engine",), [(k,) for k in keys], keys)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if item.get_closest_marker("not_applicable") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.get_closest_marker("not_applicable") is None]


@pytest.fixture
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EngineHarness]:
    """A started harness for one engine: its own app and recorder file per test."""
    spec = SPECS[request.param]
    # An engine on a real server (postgres, redis, rabbitmq) names its
    # session-scoped service fixture in EngineSpec.fixtures; that fixture fails -
    # never skips - when the server is missing in CI (SPEC §8). Per-test
    # isolation (a fresh database from a template, unique or cleared queues:
    # the @task(queue=...) names in jobs.py are fixed) is the harness's job.
    services = {name: request.getfixturevalue(name) for name in spec.fixtures}
    marker = request.node.get_closest_marker("tasks_config")
    overrides: dict[str, Any] = marker.args[0] if marker is not None else {}
    section = deep_merge(deep_merge(SUITE_SECTION, spec.section), overrides)
    harness = spec.harness(spec.key, section, tmp_path / "recorder.jsonl", services)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.close()
