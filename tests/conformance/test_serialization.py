"""Arguments round-trip through JSON as their annotated types; bad ones are ``Err`` (SPEC §3, §1.4)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from lexigram_compat import (
    JobStatus,
    PayloadTooLargeError,
    SerializationError,
    TaskCall,
    TaskValidationError,
)

from . import jobs
from .harness import EngineHarness, err, ok

ARGUMENTS: dict[str, Any] = {
    "when": datetime(2031, 3, 30, 2, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    "day": date(2024, 2, 29),
    "ident": UUID("12345678-1234-5678-1234-567812345678"),
    "amount": Decimal("1234.5600"),
    "colour": jobs.Colour.GREEN,
    "point": jobs.Point(x=-1, y=2, label="naïve ✓"),
    "box": jobs.Box(width=Decimal("0.10"), tags=["a", "b"]),
}
EXPECTED_TYPES = {
    "when": "datetime",
    "day": "date",
    "ident": "UUID",
    "amount": "Decimal",
    "colour": "Colour",
    "point": "Point",
    "box": "Box",
}


@pytest.mark.parametrize("style", ["keyword", "positional"])
async def test_arguments_arrive_as_their_annotated_types_with_equal_values(
    engine: EngineHarness, style: str
) -> None:
    first_five = list(ARGUMENTS.values())[:5]  # point and box are keyword-only
    positional = jobs.echo(*first_five, point=ARGUMENTS["point"], box=ARGUMENTS["box"])
    call = jobs.echo(**ARGUMENTS) if style == "keyword" else positional
    job_id = ok(await engine.app.queue.enqueue(call))

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    [entry] = engine.recorder.entries("echo")
    assert entry.data["types"] == EXPECTED_TYPES
    assert entry.data["values"] == {name: jobs.describe(value) for name, value in ARGUMENTS.items()}


@pytest.mark.requires("results")
async def test_the_return_value_comes_back_as_its_annotated_type(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.echo(**ARGUMENTS)))

    await engine.drain()

    assert (await engine.info(job_id)).result == jobs.Point(x=-1, y=2, label="naïve ✓")


@pytest.mark.requires("results")
async def test_a_decimal_result_comes_back_as_a_decimal(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.triple(Decimal("1.320"))))

    await engine.drain()

    result = (await engine.info(job_id)).result
    assert type(result) is Decimal
    assert result == Decimal("3.960")


async def test_json_friendly_values_pass_through_an_unannotated_parameter(engine: EngineHarness) -> None:
    job_id = ok(await engine.app.queue.enqueue(jobs.accept_any({"nested": [1, 2.5, None, "x"]})))

    await engine.drain()

    assert (await engine.info(job_id)).status is JobStatus.COMPLETED
    assert [e.data["type"] for e in engine.recorder.entries("accept_any")] == ["dict"]


async def test_an_argument_json_cannot_represent_is_err_naming_it(engine: EngineHarness) -> None:
    error = err(await engine.app.queue.enqueue(jobs.accept_any(object())))

    assert isinstance(error, SerializationError)
    assert "'value'" in error.message
    assert await engine.app.queue.count() == 0


async def test_send_task_refuses_what_json_cannot_represent(engine: EngineHarness) -> None:
    error = err(await engine.app.queue.send_task("conformance.elsewhere", kwargs={"value": {1, 2}}))

    assert isinstance(error, SerializationError)
    assert await engine.app.queue.count() == 0


@pytest.mark.tasks_config({"max_payload_bytes": 4096})
async def test_a_payload_over_max_payload_bytes_is_err(engine: EngineHarness) -> None:
    queue = engine.app.queue

    error = err(await queue.enqueue(jobs.accept_any("x" * 5000)))

    assert isinstance(error, PayloadTooLargeError)
    assert "4096" in error.message
    assert await queue.count() == 0
    ok(await queue.enqueue(jobs.accept_any("x" * 1000)))
    assert await queue.count() == 1


@pytest.mark.parametrize(
    ("call", "parameter"),
    [
        pytest.param(jobs.add.s("two", 3), "a", id="int"),
        pytest.param(jobs.echo.s(**{**ARGUMENTS, "ident": "not-a-uuid"}), "ident", id="UUID"),
        pytest.param(jobs.echo.s(**{**ARGUMENTS, "colour": "purple"}), "colour", id="Enum"),
        pytest.param(jobs.echo.s(**{**ARGUMENTS, "point": {"x": 1}}), "point", id="pydantic-model"),
        pytest.param(jobs.echo.s(**{**ARGUMENTS, "day": "29 Feb"}), "day", id="date"),
    ],
)
async def test_a_bad_value_for_an_annotation_is_err_naming_the_parameter(
    engine: EngineHarness, call: TaskCall, parameter: str
) -> None:
    error = err(await engine.app.queue.enqueue(call))

    assert isinstance(error, TaskValidationError)
    assert f"'{parameter}'" in error.message
    assert await engine.app.queue.count() == 0
