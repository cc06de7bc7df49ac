"""Type-hint driven JSON for job arguments and results (pydantic ``TypeAdapter``).

Arguments are validated against the task's annotations when enqueued, dumped
to JSON-native values, and validated back into the annotated types by the
worker, so ``datetime``, ``UUID``, ``Decimal``, ``Enum``, dataclasses and
pydantic models arrive as themselves. Pickle is never used.
"""

from __future__ import annotations

import inspect
import json
import logging
import math
import threading
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_jsonable_python

from lexigram_compat.errors import SerializationError, TaskValidationError

__all__ = ["TaskSignature", "dumps", "dumps_text", "loads"]

log = logging.getLogger("lexigram_compat.serialization")

_EMPTY = inspect.Parameter.empty
_POS_OR_KW = inspect.Parameter.POSITIONAL_OR_KEYWORD
_KW_ONLY = inspect.Parameter.KEYWORD_ONLY
_NATIVE_TYPES = (int, str, bool, float)


# One encoder for every call: json.dumps with non-default options builds a new one each time.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def dumps(value: Any) -> bytes:
    """Compact JSON bytes of JSON-native ``value``."""
    return _encode(value).encode()


def dumps_text(value: Any) -> str:
    """:func:`dumps` as text (to put into a larger JSON text)."""
    return _encode(value)


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


_decode = json.JSONDecoder(parse_constant=_reject_constant).decode


def loads(data: bytes | str) -> Any:
    """Parse JSON bytes or text; ``NaN``/``Infinity`` are refused, as :func:`dumps` does."""
    # json.loads, with one decoder for every call (json.loads with parse_constant
    # builds a new one each time).
    if isinstance(data, str):
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        return _decode(data)
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"the JSON object must be str, bytes or bytearray, not {data.__class__.__name__}")
    return _decode(data.decode(json.detect_encoding(data), "surrogatepass"))


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    return f"{err['msg']}" + (f" at {loc}" if loc else "")


class TaskSignature:
    """The parameters of a task function and a TypeAdapter per annotation."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.signature = inspect.signature(fn)
        self.parameters = self.signature.parameters
        self._hints: dict[str, Any] | None = None
        self._adapters: dict[str, TypeAdapter[Any] | None] = {}
        self._natives: dict[str, type | None] = {}
        self._lock = threading.Lock()
        kinds = {p.kind for p in self.parameters.values()}
        # Most tasks take plain named parameters: bind those without inspect's
        # general (and slower) algorithm, which stays for everything else.
        self._simple = kinds <= {_POS_OR_KW, _KW_ONLY}
        self._positional = [n for n, p in self.parameters.items() if p.kind is _POS_OR_KW]

    # Hints resolve lazily: forward references may name classes defined after
    # the decorator ran.
    @property
    def hints(self) -> dict[str, Any]:
        """Resolved annotations (``Annotated`` kept), by parameter name."""
        if self._hints is None:
            try:
                self._hints = typing.get_type_hints(self.fn, include_extras=True)
            except Exception:
                # One unresolvable name (say, imported only under TYPE_CHECKING)
                # must not cost the other parameters their types: resolve each
                # on its own and keep only the one that fails as a string.
                self._hints = self._hints_one_by_one()
        return self._hints

    def _hints_one_by_one(self) -> dict[str, Any]:
        raw = {n: p.annotation for n, p in self.parameters.items() if p.annotation is not _EMPTY}
        if self.signature.return_annotation is not _EMPTY:
            raw["return"] = self.signature.return_annotation
        globalns = getattr(inspect.unwrap(self.fn), "__globals__", None)
        hints: dict[str, Any] = {}
        for name, annotation in raw.items():

            def probe() -> None: ...

            probe.__annotations__ = {name: annotation}
            try:
                hints[name] = typing.get_type_hints(probe, globalns=globalns, include_extras=True)[name]
            except Exception:
                hints[name] = annotation
        return hints

    def annotation(self, name: str) -> Any:
        """The annotation of parameter ``name``, or ``inspect.Parameter.empty``."""
        return self.hints.get(name, _EMPTY)

    def _adapter(self, name: str) -> TypeAdapter[Any] | None:
        if name not in self._adapters:
            hint = self.annotation(name)
            adapter: TypeAdapter[Any] | None = None
            # A string is a forward reference that did not resolve: no validation
            # (pydantic would defer it and fail on first use instead).
            if hint is not _EMPTY and hint is not Any and not isinstance(hint, str):
                try:
                    adapter = TypeAdapter(hint)
                except Exception:  # a type pydantic cannot describe: no validation
                    adapter = None
                if adapter is not None and not getattr(adapter, "pydantic_complete", True):
                    adapter = None  # refers to names that are not defined
            with self._lock:
                self._adapters[name] = adapter
        return self._adapters[name]

    def bind(self, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
        """Bind partially (parameters may come from the container), or TypeError."""
        try:
            return self.signature.bind_partial(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{task_name}(): {exc}") from None

    def arguments(self, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Parameter name → value for a partial call, in parameter order; TypeError if it cannot bind."""
        if not self._simple:
            return dict(self.bind(task_name, args, kwargs).arguments)
        if len(args) > len(self._positional):
            raise TypeError(
                f"{task_name}(): too many positional arguments "
                f"(takes {len(self._positional)}, {len(args)} given)"
            )
        out = dict(zip(self._positional, args, strict=False))
        for key, value in kwargs.items():
            if key not in self.parameters:
                raise TypeError(f"{task_name}(): got an unexpected keyword argument {key!r}")
            if key in out:
                raise TypeError(f"{task_name}(): got multiple values for argument {key!r}")
            out[key] = value
        return out

    def check_call(self, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise TypeError for an unknown keyword, too many positional arguments, or a
        required parameter nothing can supply (see :meth:`check_required`)."""
        self.check_required(task_name, self.arguments(task_name, args, kwargs))

    def _unsuppliable(self) -> tuple[str, ...]:
        # No default, and no annotation for the container to resolve it by. Kept in the
        # instance dict by hand: functools.cached_property takes a lock on every access
        # in Python 3.11, and this runs twice per enqueue.
        found: tuple[str, ...] | None = self.__dict__.get("_unsuppliable_names")
        if found is not None:
            return found
        found = self.__dict__["_unsuppliable_names"] = tuple(
            name
            for name, p in self.parameters.items()
            if p.kind in (_POS_OR_KW, _KW_ONLY, inspect.Parameter.POSITIONAL_ONLY)
            and p.default is _EMPTY
            and p.annotation is _EMPTY
        )
        return found

    def check_required(self, task_name: str, supplied: Mapping[str, Any]) -> None:
        """Raise TypeError when a parameter with neither a default nor an annotation is
        missing: the container resolves parameters by annotation, so only the caller
        can give it, and the worker would fail on every attempt."""
        unsuppliable = self._unsuppliable()
        if not unsuppliable:
            return
        missing = [name for name in unsuppliable if name not in supplied]
        if missing:
            names = ", ".join(repr(n) for n in missing)
            raise TypeError(
                f"{task_name}(): missing required argument {names} (it has no default and no "
                "annotation, so the container cannot supply it)"
            )

    def _native(self, name: str) -> type | None:
        """``int``, ``str``, ``bool`` or ``float`` when that bare type is the
        annotation of a plain parameter: a value of exactly that type is already
        what pydantic would validate and dump it to (lax mode returns it as is)."""
        try:
            return self._natives[name]
        except KeyError:
            pass
        param = self.parameters[name]
        hint = self.annotation(name)
        native = (
            hint
            if param.kind in (_POS_OR_KW, _KW_ONLY)
            and any(hint is t for t in _NATIVE_TYPES)
            and self._adapter(name) is not None
            else None
        )
        with self._lock:
            self._natives[name] = native
        return native

    def _convert(self, task_name: str, name: str, value: Any, *, to_json: bool) -> Any:
        native = self._native(name)
        # type() is, not isinstance: a subclass (an IntEnum, a str subclass) is
        # left to pydantic, which may change it.
        if (
            native is not None
            and type(value) is native
            and (native is not float or math.isfinite(typing.cast(float, value)))
        ):
            return value
        param = self.parameters[name]
        adapter = self._adapter(name)
        kind = param.kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            return [self._convert_one(task_name, name, adapter, v, to_json) for v in value]
        if kind is inspect.Parameter.VAR_KEYWORD:
            return {
                k: self._convert_one(task_name, f"{name}[{k!r}]", adapter, v, to_json)
                for k, v in value.items()
            }
        return self._convert_one(task_name, name, adapter, value, to_json)

    def _convert_one(
        self, task_name: str, name: str, adapter: TypeAdapter[Any] | None, value: Any, to_json: bool
    ) -> Any:
        if adapter is not None:
            try:
                validated = adapter.validate_python(value)
            except ValidationError as exc:
                raise TaskValidationError(
                    f"{task_name}(): argument {name!r} is not valid for its annotation "
                    f"{_type_name(self.annotation(name.split('[', maxsplit=1)[0]))}: {_first_error(exc)}",
                    hint=f"pass a value of the annotated type for {name!r}",
                ) from None
            except Exception as exc:  # a validator raising something pydantic does not wrap
                raise TaskValidationError(
                    f"{task_name}(): argument {name!r}: validating it against "
                    f"{_type_name(self.annotation(name.split('[', maxsplit=1)[0]))} raised "
                    f"{type(exc).__name__}: {exc}",
                    hint=f"pass a value of the annotated type for {name!r}",
                ) from exc
            if not to_json:
                return validated
            try:
                dumped = adapter.dump_python(validated, mode="json")
                # pydantic's JSON mode keeps NaN/inf floats, which JSON cannot carry.
                if _has_non_finite(dumped):
                    raise ValueError("NaN and infinity have no JSON form")
            except Exception as exc:
                raise SerializationError(
                    f"{task_name}(): argument {name!r} ({type(value).__name__}) cannot be "
                    f"serialised to JSON: {exc}",
                ) from None
            return dumped
        if not to_json:
            return value
        if (changed := _changes_type_in_json(value)) is not None:
            raise SerializationError(
                f"{task_name}(): argument {name!r} holds a {changed}, which JSON carries as a list: "
                "the task would receive a list",
                hint=f"annotate the parameter (e.g. {name}: {changed}[str]) to get a {changed} back, "
                "or pass a list",
            )
        try:
            plain = to_jsonable_python(value)
            json.dumps(plain, allow_nan=False)
        except Exception:
            raise SerializationError(
                f"{task_name}(): argument {name!r} of type {type(value).__name__} cannot be "
                "serialised to JSON",
            ) from None
        return plain

    def encode(
        self, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """Validate and dump the call's arguments to JSON-native args and kwargs.

        Raises:
            TypeError: The arguments do not fit the signature.
            TaskValidationError: A value does not match its annotation.
            SerializationError: A value cannot be represented as JSON.
        """
        if not args and not kwargs:  # nothing to bind, validate or dump
            self.check_required(task_name, {})
            return [], {}
        arguments = self.arguments(task_name, args, kwargs)
        self.check_required(task_name, arguments)
        out_args: list[Any] = []
        out_kwargs: dict[str, Any] = {}
        positional = len(args)
        for index, (name, value) in enumerate(arguments.items()):
            converted = self._convert(task_name, name, value, to_json=True)
            kind = self.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                out_args.extend(converted)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                out_kwargs.update(converted)
            elif index < positional and kind is not inspect.Parameter.KEYWORD_ONLY:
                out_args.append(converted)
            else:
                out_kwargs[name] = converted
        return out_args, out_kwargs

    def decode(
        self, task_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]
    ) -> tuple[list[Any], dict[str, Any], set[str]]:
        """Validate JSON args/kwargs back into the annotated types.

        Returns:
            Positional args, keyword args and the set of parameter names supplied.
        """
        if not args and not kwargs:  # nothing to bind or validate
            return [], {}, set()
        try:
            if not self._simple:
                bound = self.bind(task_name, args, kwargs)
                for name, value in list(bound.arguments.items()):
                    bound.arguments[name] = self._convert(task_name, name, value, to_json=False)
                return list(bound.args), dict(bound.kwargs), set(bound.arguments)
            arguments = self.arguments(task_name, args, kwargs)
        except TypeError as exc:
            raise TaskValidationError(
                str(exc), hint="the job's arguments do not fit the task's signature"
            ) from None
        converted = {n: self._convert(task_name, n, v, to_json=False) for n, v in arguments.items()}
        names = list(converted)
        positional = names[: len(args)]
        return (
            [converted[n] for n in positional],
            {n: converted[n] for n in names[len(args) :]},
            set(names),
        )

    def decode_result(self, value: Any) -> Any:
        """A stored JSON result back as the return annotation's type (``Decimal``, a
        model...); the JSON value itself when there is none or it does not fit."""
        adapter = self._adapter("return")
        if value is None or adapter is None:
            return value
        try:
            return adapter.validate_python(value)
        except Exception:  # a value dumped by its runtime type (encode_result): keep it
            return value

    def encode_result(self, value: Any) -> Any:
        """The return value as JSON-native data (``None`` when it has no JSON form)."""
        if value is None:
            return None
        adapter = self._adapter("return")
        try:
            # warnings=False: a value that does not match the annotation is still
            # dumped by its runtime type rather than dropped.
            if adapter is not None:
                plain = adapter.dump_python(value, mode="json", warnings=False)
            else:
                plain = to_jsonable_python(value)
            json.dumps(plain, allow_nan=False)
        except Exception:
            log.warning(
                "the result of a task (%s) cannot be represented as JSON; it is not kept",
                type(value).__name__,
            )
            return None
        return plain


def _changes_type_in_json(value: Any) -> str | None:
    """``"set"``, ``"frozenset"`` or ``"tuple"`` when ``value`` holds one (at any depth):
    without an annotation saying so, JSON would turn it into a list."""
    if isinstance(value, frozenset):
        return "frozenset"
    if isinstance(value, set):
        return "set"
    if isinstance(value, tuple) and not hasattr(value, "_fields"):  # a namedtuple dumps as a list too
        return "tuple"
    if isinstance(value, tuple | list):
        items: Any = value
    elif isinstance(value, dict):
        items = value.values()
    else:
        return None
    for item in items:
        if (found := _changes_type_in_json(item)) is not None:
            return found
    return None


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list | tuple):
        return any(_has_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    return False


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or repr(hint)
