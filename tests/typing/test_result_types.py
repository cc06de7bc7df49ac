"""Static types of ``lexigram_compat.result``, verified by ``mypy --strict``.

``assert_type`` is a no-op at runtime, so pytest only proves these run cleanly;
the real checks happen when mypy reads this file.
"""

from __future__ import annotations

from typing import Literal, Never, assert_type

from lexigram_compat.errors import TaskQueueError
from lexigram_compat.result import (
    Err,
    Ok,
    Result,
    as_result,
    as_result_sync,
    collect,
    partition,
)


def _parse(text: str) -> Result[int, ValueError]:
    if text.isdigit():
        return Ok(int(text))
    return Err(ValueError(text))


def _lookup(key: str) -> Result[str, TaskQueueError]:
    if key:
        return Ok(key)
    return Result.from_exception(TaskQueueError("empty key"))


def _needs_result(result: Result[int, KeyError]) -> int:
    return result.unwrap_or(0)


def test_constructors_infer_never_for_the_other_side() -> None:
    ok = Ok(1)
    err = Err(ValueError("x"))
    assert_type(ok, Ok[int, Never])
    assert_type(err, Err[Never, ValueError])
    assert_type(Result.from_exception(KeyError("k")), Result[Never, KeyError])
    annotated: Ok[int] = ok
    assert _needs_result(annotated) == 1
    assert _needs_result(Err(KeyError("k"))) == 0


def test_variants_are_assignable_to_result() -> None:
    assert _parse("1") == Ok(1)
    assert _lookup("").is_err()
    assert isinstance(_lookup("k"), Result)


def test_unwrapping_types() -> None:
    result = _parse("3")
    assert_type(Ok(1).unwrap(), int)
    assert_type(Err(KeyError()).unwrap_err(), KeyError)
    assert_type(result.unwrap(), int)
    assert_type(result.unwrap_or(0), int)
    assert_type(result.unwrap_or(None), int | None)
    assert_type(result.unwrap_or_else(str), int | str)
    assert_type(result.expect("parsing"), int)
    assert_type(result.ok_or("none"), int | str)
    assert_type(result.to_optional(), int | None)
    assert_type(result.is_ok(), bool)
    assert_type(Ok(1).is_ok(), Literal[True])
    assert_type(Err(1).is_ok(), Literal[False])
    assert result.unwrap() == 3


def test_combinator_types() -> None:
    result = _parse("4")
    assert_type(result.map_sync(str), Result[str, ValueError])
    assert_type(result.map_err(str), Result[int, str])
    assert_type(result.and_then_sync(lambda v: _lookup(str(v))), Result[str, ValueError | TaskQueueError])
    assert_type(result.or_else_sync(lambda e: Ok(str(e))), Result[int | str, Never])
    assert_type(result.match(ok=str, err=lambda e: len(e.args)), str | int)
    assert_type(result.filter(lambda v: v > 0, "not positive"), Result[int, ValueError | str])
    assert_type(result.inspect(print), Result[int, ValueError])
    assert_type(result.inspect_err(print), Result[int, ValueError])
    assert_type(Ok(1).inspect(print), Ok[int, Never])
    assert result.map_sync(str) == Ok("4")


def test_flatten_types() -> None:
    nested: Result[Result[int, KeyError], ValueError] = Ok(Ok(1))
    assert_type(nested.flatten(), Result[int, KeyError | ValueError])
    assert_type(_parse("1").flatten(), Result[int, ValueError])
    assert nested.flatten() == Ok(1)


async def _double(value: int) -> int:
    return value * 2


async def _lookup_async(value: int) -> Result[str, TaskQueueError]:
    return _lookup(str(value))


async def test_async_combinator_types() -> None:
    result = _parse("5")
    assert_type(await result.map(_double), Result[int, ValueError])
    assert_type(await result.async_map(_double), Result[int, ValueError])
    assert_type(await result.and_then(_lookup_async), Result[str, ValueError | TaskQueueError])
    assert await result.and_then(_lookup_async) == Ok("5")


def test_helper_types() -> None:
    results = [_parse("1"), _parse("x")]
    assert_type(collect(results), Result[list[int], ValueError])
    assert_type(partition(results), tuple[list[int], list[ValueError]])
    assert partition(results)[0] == [1]


async def test_decorator_types() -> None:
    @as_result_sync(ValueError)
    def parse(text: str) -> int:
        return int(text)

    @as_result(KeyError)
    async def fetch(key: str) -> bytes:
        return key.encode()

    assert_type(parse("1"), Result[int, ValueError])
    assert_type(await fetch("k"), Result[bytes, KeyError])
    assert parse("1") == Ok(1)
