"""A required parameter nothing can supply is a TypeError where the call is written (issue 13)."""

from __future__ import annotations

import pytest

from lexigram_compat import TaskRegistry, TasksApp, TaskValidationError, task
from lexigram_compat.calls import TaskCall

registry = TaskRegistry()


class Mailer:
    """Supplied by the container: an annotated parameter may be left out."""


@task(name="required.send", registry=registry)
async def send(to, subject: str, mailer: Mailer, retries=3) -> str:  # type: ignore[no-untyped-def]
    return f"{to}:{subject}"


def test_leaving_out_an_unannotated_parameter_without_default_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"required\.send\(\): missing required argument 'to'"):
        send(subject="hi")  # type: ignore[call-arg]  # the point of the test


def test_the_message_says_why_the_container_cannot_supply_it() -> None:
    with pytest.raises(TypeError, match="no annotation"):
        send.s(subject="hi")


def test_annotated_and_defaulted_parameters_may_be_left_out() -> None:
    call = send("a@b.c")  # type: ignore[call-arg]  # subject and mailer: annotated, so the container may
    assert call.args == ("a@b.c",)


async def test_enqueue_by_call_refuses_it_too() -> None:
    app = TasksApp.from_dict({"tasks": {}}, environ={}, registry=registry)
    async with app:
        error = (await app.queue.enqueue(TaskCall("required.send", (), {"subject": "hi"}))).unwrap_err()
    assert isinstance(error, TaskValidationError)
    assert "missing required argument 'to'" in str(error)
