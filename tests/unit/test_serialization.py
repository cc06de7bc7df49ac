"""Type-hint driven JSON for arguments and results (``TaskSignature``, SPEC §3)."""

from __future__ import annotations

import dataclasses
import enum
import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Optional
from uuid import UUID, uuid4

import pytest
from pydantic import BaseModel

from lexigram_compat import SerializationError, TaskValidationError
from lexigram_compat.serialization import TaskSignature, dumps, loads


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Address(BaseModel):
    street: str
    since: datetime


@dataclasses.dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


def everything(
    *,
    when: datetime,
    day: date,
    ident: UUID,
    price: Decimal,
    color: Color,
    level: Level,
    address: Address,
    money: Money,
    history: list[Address],
    maybe: Optional[int] = None,  # noqa: UP045 - the Optional spelling is what is tested
    union: int | None = None,
) -> Address:
    raise NotImplementedError


VALUES: dict[str, Any] = {
    "when": datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2))),
    "day": date(2026, 2, 28),
    "ident": uuid4(),
    "price": Decimal("19.990"),
    "color": Color.BLUE,
    "level": Level.HIGH,
    "address": Address(street="Main St 1", since=datetime(2020, 1, 1, tzinfo=UTC)),
    "money": Money(Decimal("0.10"), "EUR"),
    "history": [Address(street="Old Rd", since=datetime(2001, 5, 6, 7, 8, 9, tzinfo=UTC))],
    "maybe": 7,
    "union": None,
}


def wire(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """What a broker hands back: the JSON text parsed again."""
    data = loads(dumps({"a": args, "k": kwargs}))
    return data["a"], data["k"]


def roundtrip(sig: TaskSignature, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    encoded = sig.encode("t", args, kwargs)
    dec_args, dec_kwargs, supplied = sig.decode("t", *wire(*encoded))
    arguments = dict(sig.signature.bind_partial(*dec_args, **dec_kwargs).arguments)
    assert supplied == set(arguments)
    return arguments


def test_every_supported_type_round_trips_as_itself() -> None:
    sig = TaskSignature(everything)
    decoded = roundtrip(sig, (), VALUES)
    assert decoded == VALUES
    for name, value in VALUES.items():
        assert type(decoded[name]) is type(value), name
    assert decoded["when"].utcoffset() == timedelta(hours=2)
    assert str(decoded["price"]) == "19.990"
    assert isinstance(decoded["history"][0], Address)


def test_encoded_arguments_are_plain_json() -> None:
    args, kwargs = TaskSignature(everything).encode("t", (), VALUES)
    assert args == []
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs["ident"] == str(VALUES["ident"])
    assert kwargs["color"] == "blue"
    assert kwargs["money"] == {"amount": "0.10", "currency": "EUR"}
    assert kwargs["day"] == "2026-02-28"


def test_positional_arguments_stay_positional() -> None:
    def f(a: UUID, b: date, *, c: Color = Color.RED) -> None:
        return None

    ident = uuid4()
    args, kwargs = TaskSignature(f).encode("t", (ident, date(2026, 1, 1)), {"c": Color.BLUE})
    assert (args, kwargs) == ([str(ident), "2026-01-01"], {"c": "blue"})
    assert roundtrip(TaskSignature(f), (ident, date(2026, 1, 1)), {}) == {"a": ident, "b": date(2026, 1, 1)}


@pytest.mark.parametrize("value", [None, 3])
def test_optional_parameters(value: int | None) -> None:
    def f(x: Optional[int] = None) -> None:  # noqa: UP045
        return None

    assert roundtrip(TaskSignature(f), (value,), {}) == {"x": value}


def test_variadic_parameters_are_typed_per_item() -> None:
    def f(first: int, *rest: date, **extra: Decimal) -> None:
        return None

    sig = TaskSignature(f)
    args, kwargs = sig.encode("t", (1, date(2026, 1, 1), date(2026, 1, 2)), {"fee": Decimal("1.5")})
    assert (args, kwargs) == ([1, "2026-01-01", "2026-01-02"], {"fee": "1.5"})
    dec_args, dec_kwargs, supplied = sig.decode("t", *wire(args, kwargs))
    assert dec_args == [1, date(2026, 1, 1), date(2026, 1, 2)]
    assert dec_kwargs == {"fee": Decimal("1.5")}
    assert supplied == {"first", "rest", "extra"}


def test_unannotated_parameters_pass_json_values_through() -> None:
    def f(payload, count=1):  # type: ignore[no-untyped-def]
        return None

    sig = TaskSignature(f)
    payload = {"nested": [1, "two", None, True, 2.5]}
    assert sig.encode("t", (payload,), {"count": 3}) == ([payload], {"count": 3})
    assert roundtrip(sig, (payload,), {"count": 3}) == {"payload": payload, "count": 3}


def test_any_annotation_is_not_validated() -> None:
    def f(x: Any) -> None:
        return None

    assert TaskSignature(f).encode("t", ("anything",), {}) == (["anything"], {})


@pytest.mark.parametrize(
    ("value", "type_name"),
    [(object(), "object"), (print, "builtin_function_or_method"), (float("nan"), "float")],
)
def test_unserialisable_unannotated_value_names_the_argument(value: Any, type_name: str) -> None:
    def f(blob, other=None):  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(SerializationError) as info:
        TaskSignature(f).encode("jobs.store", (), {"other": 1, "blob": value})
    assert "jobs.store(): argument 'blob'" in info.value.message
    assert type_name in info.value.message
    assert info.value.hint


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_float_for_a_float_parameter_is_a_serialization_error(value: float) -> None:
    def f(ratio: float) -> None:
        return None

    with pytest.raises(SerializationError, match="argument 'ratio'"):
        TaskSignature(f).encode("t", (value,), {})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("when", "not a date"),
        ("ident", "not-a-uuid"),
        ("price", "abc"),
        ("color", "green"),
        ("address", {"street": "x"}),
        ("history", [{"street": 1}]),
        ("maybe", "seven"),
    ],
)
def test_invalid_value_is_a_validation_error_naming_the_parameter(name: str, value: Any) -> None:
    with pytest.raises(TaskValidationError) as info:
        TaskSignature(everything).encode("jobs.all", (), {**VALUES, name: value})
    assert f"jobs.all(): argument {name!r} is not valid" in info.value.message
    assert name in (info.value.hint or "")


def test_invalid_variadic_items_name_the_parameter() -> None:
    def f(*numbers: int, **dates: date) -> None:
        return None

    with pytest.raises(TaskValidationError, match="argument 'numbers'"):
        TaskSignature(f).encode("t", (1, "x"), {})
    with pytest.raises(TaskValidationError, match="argument \"dates\\['start'\\]\""):
        TaskSignature(f).encode("t", (), {"start": "soon"})


def test_decode_validates_what_the_worker_received() -> None:
    def f(when: datetime, n: int) -> None:
        return None

    sig = TaskSignature(f)
    with pytest.raises(TaskValidationError, match="argument 'when'"):
        sig.decode("t", ["yesterday"], {"n": 1})
    with pytest.raises(TaskValidationError, match="unexpected keyword") as info:
        sig.decode("t", [], {"nope": 1})
    assert info.value.hint == "the job's arguments do not fit the task's signature"


def test_signature_errors_are_type_errors_naming_the_task() -> None:
    def f(a: int) -> None:
        return None

    sig = TaskSignature(f)
    with pytest.raises(TypeError, match=r"^t\(\): too many positional arguments"):
        sig.encode("t", (1, 2), {})
    assert sig.encode("t", (), {}) == ([], {})


def test_forward_references_resolve_lazily() -> None:
    def f(later: LaterModel) -> None:
        return None

    sig = TaskSignature(f)
    assert roundtrip(sig, (LaterModel(n=2),), {}) == {"later": LaterModel(n=2)}


class LaterModel(BaseModel):
    n: int


# --- results ---------------------------------------------------------------------------


def test_encode_result_uses_the_return_annotation() -> None:
    address = Address(street="s", since=datetime(2026, 1, 1, tzinfo=UTC))
    assert TaskSignature(everything).encode_result(address) == {
        "street": "s",
        "since": "2026-01-01T00:00:00Z",
    }


def test_encode_result_without_annotation_is_best_effort() -> None:
    def f():  # type: ignore[no-untyped-def]
        return None

    sig = TaskSignature(f)
    ident = uuid4()
    assert sig.encode_result({"id": ident, "n": Decimal("1.5")}) == {"id": str(ident), "n": "1.5"}
    assert sig.encode_result(None) is None
    assert sig.encode_result(object()) is None
    assert sig.encode_result(float("nan")) is None


def test_dumps_is_compact_and_strict() -> None:
    assert dumps({"a": [1, "é"]}) == '{"a":[1,"é"]}'.encode()
    with pytest.raises(ValueError, match="JSON"):
        dumps(float("inf"))
    assert loads(b'{"x": 1}') == {"x": 1}
