"""An unannotated set or tuple argument would arrive as a list: it is refused, naming the argument."""

from __future__ import annotations

from typing import Any

import pytest

from lexigram_compat import SerializationError, TaskRegistry, TasksApp, task

registry = TaskRegistry()


@task(name="containers.tag", registry=registry)
async def tag(tags, point: Any = None, kept: set[str] | None = None) -> None:  # type: ignore[no-untyped-def]
    return None


@pytest.mark.parametrize(
    ("kwargs", "argument", "kind"),
    [
        ({"tags": {"a", "b"}}, "tags", "set"),
        ({"tags": ("a", "b")}, "tags", "tuple"),
        ({"tags": [1], "point": {"xy": (1, 2)}}, "point", "tuple"),
        ({"tags": frozenset({"a"})}, "tags", "frozenset"),
    ],
)
async def test_a_set_or_tuple_without_annotation_is_refused_naming_the_argument(
    kwargs: dict[str, Any], argument: str, kind: str
) -> None:
    app = TasksApp.from_dict({"tasks": {}}, environ={}, registry=registry)
    async with app:
        error = (await app.queue.enqueue(tag(**kwargs))).unwrap_err()
    assert isinstance(error, SerializationError)
    message = str(error)
    assert f"argument {argument!r}" in message
    assert f"a {kind}" in message
    assert "annotate" in message


async def test_an_annotated_set_is_kept() -> None:
    app = TasksApp.from_dict({"tasks": {}}, environ={}, registry=registry)
    async with app:
        assert (await app.queue.enqueue(tag([1], kept={"a"}))).is_ok()
