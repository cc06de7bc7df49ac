"""Fixtures every test directory shares: the real servers (see ``tests/services.py``),
and the grouping that lets ``scripts/test`` run engine families side by side.

Under pytest-xdist with ``--dist loadgroup`` (``LEXIGRAM_TEST_WORKERS=3 scripts/test``), every
test of one engine family (its conformance runs and its own directory) runs in
one xdist worker, in order, as in a serial run; families and the engine-free
tests run beside each other. Tests are isolated per test anyway (databases from
a template, Redis dbs and prefixes, vhosts, queue names); the grouping keeps a
family's session fixtures (a template database, a vhost) in one process.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.services import Service, require_service

FAMILIES = ("postgres", "dramatiq", "celery")
TESTS = Path(__file__).parent


def family_of(item: pytest.Item) -> str | None:
    """The engine family a test exercises: by its directory, or by the ``engine``
    parameter of a conformance test (``dramatiq-redis`` → ``dramatiq``)."""
    try:
        top = item.path.relative_to(TESTS).parts[0]
    except ValueError:
        return None
    if top in FAMILIES:
        return top
    callspec = getattr(item, "callspec", None)
    key = callspec.params.get("engine") if callspec is not None else None
    if isinstance(key, str):
        family = key.split("-")[0]
        if family in FAMILIES:
            return family
    return None


CHAOS_TEST = "tests/chaos/test_chaos.py::"
_chaos_tables: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keep each fault-injection pair's table (its captured output) for the summary:
    under xdist the reports reach the controlling process, which collects nothing."""
    if report.when == "call" and report.nodeid.startswith(CHAOS_TEST) and report.capstdout:
        _chaos_tables.append(report.capstdout.strip())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print every pair's fault-injection table in the test output, pass or fail."""
    if _chaos_tables:
        terminalreporter.section("fault-injection tables (tests/chaos/test_chaos.py)")
        for text in _chaos_tables:
            terminalreporter.write_line(text)
            terminalreporter.write_line("")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        family = family_of(item)
        if family is not None:
            item.add_marker(pytest.mark.xdist_group(family))


@pytest.fixture(scope="session")
def postgres_service() -> Service:
    """PostgreSQL (DSN of a database whose user may create databases)."""
    return require_service("postgres")


@pytest.fixture(scope="session")
def redis_service() -> Service:
    """Redis (URL without a db number: choose your own db or key prefix)."""
    return require_service("redis")


@pytest.fixture(scope="session")
def rabbitmq_service() -> Service:
    """RabbitMQ (URL of the default vhost: create your own vhost or unique queues)."""
    return require_service("rabbitmq")
