"""Identifiers: queue and schema names are checked where they are declared, and
no SQL is ever built from them (queues are bound parameters, the schema is
validated and quoted)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexigram_compat import ConfigurationError, TaskRegistry, TaskValidationError, task
from tests.conformance import jobs
from tests.conformance.harness import err

from .conftest import MakeApp
from .workers import build_postgres_app

BAD_QUEUES = ['emails"; DROP TABLE lexigram.jobs; --', "it's", "a;b", "q" * 64, "é" * 32]


@pytest.mark.parametrize("name", BAD_QUEUES)
def test_a_bad_queue_name_is_refused_at_declaration(name: str) -> None:
    with pytest.raises(ValueError, match="is not a valid queue name") as refused:

        @task(queue=name, registry=TaskRegistry())
        async def routed() -> None: ...

    assert repr(name) in str(refused.value)


@pytest.mark.parametrize("name", BAD_QUEUES)
async def test_a_bad_queue_name_at_enqueue_is_err_and_writes_nothing(make_app: MakeApp, name: str) -> None:
    app = await make_app()

    error = err(await app.queue.enqueue(jobs.noop("x").options(queue=name)))

    assert isinstance(error, TaskValidationError)
    assert repr(name) in error.message
    assert await app.queue.count() == 0


@pytest.mark.parametrize("schema", ['lexigram"; DROP SCHEMA public; --', "Upper", "1abc", "s" * 59, ""])
def test_a_bad_schema_name_is_refused_when_the_app_is_built(
    schema: str, section: dict[str, object], tmp_path: Path
) -> None:
    with pytest.raises(ConfigurationError, match="postgres_schema") as refused:
        build_postgres_app({**section, "extra": {"postgres_schema": schema}}, tmp_path / "r.jsonl")

    assert repr(schema) in refused.value.message


def test_a_queue_name_of_63_bytes_is_accepted() -> None:
    @task(queue="q" * 63, registry=TaskRegistry())
    async def routed() -> None: ...

    assert routed.queue == "q" * 63
