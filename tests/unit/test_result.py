"""Behaviour of ``lexigram_compat.result``: both variants, every method, and the helpers."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import pytest

from lexigram_compat import result as result_module
from lexigram_compat.result import (
    Err,
    Ok,
    Result,
    ResultError,
    UnwrapError,
    as_result,
    as_result_sync,
    collect,
    partition,
)


def _never(*_args: object) -> Any:
    raise AssertionError("must not be called for this variant")


async def _never_async(*_args: object) -> Any:
    raise AssertionError("must not be called for this variant")


def _describe(result: Result[int, str]) -> str:
    match result:
        case Ok(value):
            return f"ok:{value}"
        case Err(error):
            return f"err:{error}"
    return "unreachable"


# --- construction, identity, and dunder methods ---------------------------------------


def test_result_base_cannot_be_instantiated() -> None:
    with pytest.raises(TypeError, match="abstract"):
        Result()  # type: ignore[abstract]


def test_result_cannot_gain_a_third_variant() -> None:
    with pytest.raises(TypeError, match="exactly two variants"):

        class Maybe(Result[int, str]):
            pass


def test_variants_are_results() -> None:
    assert isinstance(Ok(1), Result)
    assert isinstance(Err("x"), Result)
    assert not isinstance(Ok(1), Err)
    assert not isinstance(Err("x"), Ok)


@pytest.mark.parametrize("variant", [Ok(1), Err(1)])
def test_variants_use_slots(variant: Result[int, int]) -> None:
    assert not hasattr(variant, "__dict__")
    with pytest.raises(AttributeError):
        variant.extra = 2  # type: ignore[attr-defined]


def test_payloads_are_read_only() -> None:
    ok, err = Ok(1), Err(1)
    with pytest.raises(AttributeError):
        ok.value = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        err.error = 2  # type: ignore[misc]


def test_payload_properties() -> None:
    assert Ok("v").value == "v"
    assert Err("e").error == "e"


def test_pattern_matching_binds_payload() -> None:
    assert _describe(Ok(3)) == "ok:3"
    assert _describe(Err("boom")) == "err:boom"
    assert Ok.__match_args__ == ("value",)
    assert Err.__match_args__ == ("error",)


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (Ok(1), Ok(1), True),
        (Err(1), Err(1), True),
        (Ok(1), Ok(2), False),
        (Err(1), Err(2), False),
        (Ok(1), Err(1), False),
        (Err(1), Ok(1), False),
        (Ok(1), 1, False),
        (Err(1), 1, False),
        (Ok(None), None, False),
    ],
)
def test_equality_is_by_variant_and_payload(left: object, right: object, equal: bool) -> None:
    assert (left == right) is equal
    assert (right == left) is equal
    assert (left != right) is not equal


def test_hash_is_by_variant_and_payload() -> None:
    assert hash(Ok(1)) == hash(Ok(1))
    assert hash(Err("e")) == hash(Err("e"))
    assert {Ok(1), Ok(1), Err(1), Err(1)} == {Ok(1), Err(1)}
    assert len({Ok(1), Err(1)}) == 2


def test_hash_of_unhashable_payload_fails_like_the_payload() -> None:
    with pytest.raises(TypeError, match="unhashable"):
        hash(Ok([1]))


def test_repr() -> None:
    assert repr(Ok(1)) == "Ok(1)"
    assert repr(Ok("a")) == "Ok('a')"
    assert repr(Err(ValueError("x"))) == "Err(ValueError('x'))"


# --- predicates and unwrapping ---------------------------------------------------------


def test_is_ok_and_is_err() -> None:
    assert Ok(1).is_ok() is True
    assert Ok(1).is_err() is False
    assert Err(1).is_ok() is False
    assert Err(1).is_err() is True


def test_unwrap_ok_returns_value() -> None:
    assert Ok(5).unwrap() == 5


def test_unwrap_err_with_exception_chains_it() -> None:
    cause = ValueError("bad input")
    err = Err(cause)
    with pytest.raises(UnwrapError) as info:
        err.unwrap()
    assert info.value.__cause__ is cause
    assert info.value.result is err
    assert "ValueError('bad input')" in str(info.value)


def test_unwrap_err_with_plain_payload_has_no_cause() -> None:
    with pytest.raises(UnwrapError, match="'plain'") as info:
        Err("plain").unwrap()
    assert info.value.__cause__ is None


def test_unwrap_err_on_err_returns_error() -> None:
    cause = KeyError("k")
    assert Err(cause).unwrap_err() is cause


def test_unwrap_err_on_ok_raises() -> None:
    ok = Ok(7)
    with pytest.raises(UnwrapError, match="7") as info:
        ok.unwrap_err()
    assert info.value.result is ok


def test_unwrap_or() -> None:
    assert Ok(1).unwrap_or(0) == 1
    assert Err("e").unwrap_or(0) == 0


def test_unwrap_or_else() -> None:
    assert Ok(1).unwrap_or_else(_never) == 1
    assert Err("abc").unwrap_or_else(len) == 3


def test_expect_ok_returns_value() -> None:
    assert Ok("v").expect("loading config") == "v"


def test_expect_err_raises_with_message_and_cause() -> None:
    cause = OSError("disk")
    with pytest.raises(UnwrapError) as info:
        Err(cause).expect("loading config")
    assert str(info.value) == "loading config: OSError('disk')"
    assert info.value.__cause__ is cause


def test_expect_err_with_plain_payload() -> None:
    with pytest.raises(UnwrapError) as info:
        Err(42).expect("counting")
    assert str(info.value) == "counting: 42"
    assert info.value.__cause__ is None


def test_ok_or_and_to_optional() -> None:
    assert Ok(1).ok_or(9) == 1
    assert Err("e").ok_or(9) == 9
    assert Ok(1).to_optional() == 1
    assert Err("e").to_optional() is None


# --- sync combinators ------------------------------------------------------------------


def test_map_sync() -> None:
    assert Ok(2).map_sync(lambda v: v * 10) == Ok(20)
    assert Err("e").map_sync(_never) == Err("e")


def test_map_err() -> None:
    assert Err("e").map_err(str.upper) == Err("E")
    assert Ok(1).map_err(_never) == Ok(1)


def test_and_then_sync() -> None:
    def halve(value: int) -> Result[int, str]:
        return Ok(value // 2) if value % 2 == 0 else Err(f"{value} is odd")

    assert Ok(4).and_then_sync(halve) == Ok(2)
    assert Ok(3).and_then_sync(halve) == Err("3 is odd")
    assert Err("first").and_then_sync(_never) == Err("first")


def test_or_else_sync() -> None:
    def recover(error: str) -> Result[int, str]:
        return Ok(0) if error == "soft" else Err(f"hard: {error}")

    assert Err("soft").or_else_sync(recover) == Ok(0)
    assert Err("x").or_else_sync(recover) == Err("hard: x")
    assert Ok(1).or_else_sync(_never) == Ok(1)


def test_match_calls_the_matching_branch() -> None:
    assert Ok(2).match(ok=lambda v: v + 1, err=_never) == 3
    assert Err("e").match(ok=_never, err=lambda e: e * 2) == "ee"


def test_match_branches_are_keyword_only() -> None:
    method: Any = Ok(1).match
    with pytest.raises(TypeError):
        method(str, str)


def test_flatten() -> None:
    inner_err: Err[int, str] = Err("inner")
    assert Ok(Ok(1)).flatten() == Ok(1)
    assert Ok(inner_err).flatten() is inner_err
    assert Ok(Ok(Ok(1))).flatten() == Ok(Ok(1))


@pytest.mark.parametrize("flat", [Ok(1), Err(Ok(1)), Err("e")])
def test_flatten_without_nested_ok_returns_self(flat: Result[Any, Any]) -> None:
    assert flat.flatten() is flat


def test_filter() -> None:
    ok = Ok(5)
    err: Err[int, str] = Err("e")
    assert ok.filter(lambda v: v > 0, "negative") is ok
    assert ok.filter(lambda v: v < 0, "positive") == Err("positive")
    assert err.filter(_never, "unused") is err


def test_inspect() -> None:
    seen: list[object] = []
    ok, err = Ok(1), Err("e")
    assert ok.inspect(seen.append) is ok
    assert err.inspect(seen.append) is err
    assert seen == [1]


def test_inspect_err() -> None:
    seen: list[object] = []
    ok, err = Ok(1), Err("e")
    assert ok.inspect_err(seen.append) is ok
    assert err.inspect_err(seen.append) is err
    assert seen == ["e"]


def test_from_exception() -> None:
    exc = RuntimeError("r")
    wrapped = Result.from_exception(exc)
    assert isinstance(wrapped, Err)
    assert wrapped == Err(exc)
    assert wrapped.unwrap_err() is exc
    assert Ok.from_exception(exc) == Err(exc)


# --- async combinators -----------------------------------------------------------------


async def _double(value: int) -> int:
    return value * 2


async def _checked_half(value: int) -> Result[int, str]:
    return Ok(value // 2) if value % 2 == 0 else Err("odd")


async def _recover(error: str) -> Result[int, str]:
    return Ok(len(error))


async def test_map() -> None:
    assert await Ok(3).map(_double) == Ok(6)
    assert await Err("e").map(_never_async) == Err("e")


async def test_async_map_is_an_alias_of_map() -> None:
    assert await Ok(3).async_map(_double) == Ok(6)
    assert await Err("e").async_map(_never_async) == Err("e")


async def test_and_then() -> None:
    assert await Ok(4).and_then(_checked_half) == Ok(2)
    assert await Ok(3).and_then(_checked_half) == Err("odd")
    assert await Err("first").and_then(_never_async) == Err("first")


async def test_or_else() -> None:
    assert await Err("four").or_else(_recover) == Ok(4)
    assert await Ok(1).or_else(_never_async) == Ok(1)


# --- UnwrapError -------------------------------------------------------------------------


def test_unwrap_error_defaults_and_alias() -> None:
    error = UnwrapError("msg")
    assert ResultError is UnwrapError
    assert error.result is None
    assert error.message == "msg"
    assert str(error) == "msg"
    assert isinstance(error, Exception)


def test_unwrap_error_pickles_with_its_result() -> None:
    restored = pickle.loads(pickle.dumps(UnwrapError("msg", Err("e"))))
    assert isinstance(restored, UnwrapError)
    assert str(restored) == "msg"
    assert restored.result == Err("e")


# --- decorators --------------------------------------------------------------------------


def test_as_result_sync_wraps_value_and_listed_exceptions() -> None:
    @as_result_sync(ValueError, KeyError)
    def parse(text: str) -> int:
        """Parse an int."""
        return int(text)

    assert parse("12") == Ok(12)
    outcome = parse("x")
    assert isinstance(outcome, Err)
    assert isinstance(outcome.error, ValueError)
    assert parse.__name__ == "parse"
    assert parse.__doc__ == "Parse an int."


def test_as_result_sync_lets_unlisted_exceptions_propagate() -> None:
    @as_result_sync(KeyError)
    def fail() -> int:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fail()


async def test_as_result_wraps_value_and_listed_exceptions() -> None:
    cause = LookupError("missing")

    @as_result(LookupError)
    async def fetch(key: str) -> str:
        if key == "missing":
            raise cause
        return key.upper()

    assert await fetch("a") == Ok("A")
    assert await fetch("missing") == Err(cause)
    assert fetch.__name__ == "fetch"


async def test_as_result_lets_unlisted_exceptions_propagate() -> None:
    @as_result(KeyError)
    async def fail() -> int:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail()


@pytest.mark.parametrize("decorator", [as_result, as_result_sync])
def test_decorators_reject_missing_or_invalid_exception_types(decorator: Any) -> None:
    with pytest.raises(TypeError, match="at least one"):
        decorator()
    with pytest.raises(TypeError, match="Exception subclasses"):
        decorator(KeyboardInterrupt)
    with pytest.raises(TypeError, match="Exception subclasses"):
        decorator("ValueError")


# --- collect and partition ---------------------------------------------------------------


def test_collect_all_ok() -> None:
    assert collect([Ok(1), Ok(2), Ok(3)]) == Ok([1, 2, 3])
    assert collect([]) == Ok([])


def test_collect_first_err_wins_and_stops_iteration() -> None:
    consumed: list[int] = []

    def results() -> Iterator[Result[int, str]]:
        for index, item in enumerate([Ok(1), Err("first"), Err("second"), Ok(4)]):
            consumed.append(index)
            yield item

    assert collect(results()) == Err("first")
    assert consumed == [0, 1]


def test_partition() -> None:
    mixed: list[Result[int, str]] = [Ok(1), Err("a"), Ok(2), Err("b")]
    assert partition(mixed) == ([1, 2], ["a", "b"])
    assert partition([]) == ([], [])


def test_all_exports_exist() -> None:
    assert set(result_module.__all__) == {
        "Err",
        "Ok",
        "Result",
        "ResultError",
        "UnwrapError",
        "as_result",
        "as_result_sync",
        "collect",
        "partition",
    }
    for name in result_module.__all__:
        assert hasattr(result_module, name)
