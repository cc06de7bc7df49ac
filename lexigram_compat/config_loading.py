"""How the ``tasks:`` section is read, and how its problems are reported.

Everything here works on plain data around the pydantic model in
``lexigram_compat.config``: reading ``application.yaml`` and its profile
overlay, ``${VAR}`` interpolation, ``LEX_TASKS__*`` overrides, turning a
pydantic ``ValidationError`` into a ``ConfigurationError`` with dotted paths,
and keeping passwords out of every message.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from lexigram_compat.errors import ConfigurationError
from lexigram_compat.redaction import redact

SECTION = "tasks"
ENV_PREFIX = "LEX_TASKS__"
PROFILE_ENV = "LEX_PROFILE"
SECRET_FIELDS = frozenset({"redis_url", "amqp_url", "postgres_dsn"})

Problem = tuple[tuple[str | int, ...], str]
Source = str | os.PathLike[str] | Mapping[str, Any] | None

_ERROR_TYPE = "tasks_config"
_MASK = "**********"
_PLACEHOLDER = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_PROFILE_NAME = re.compile(r"[A-Za-z0-9_-]+")


# --- Redaction --------------------------------------------------------------

# One function for every form (lexigram_compat.redaction); the old names stay.
redact_url = redact
redact_text = redact


def show_value(value: object) -> str:
    """A short repr of a user-supplied value with secrets masked and URL passwords redacted."""
    text = redact_text(repr(_scrub(value)))
    return text if len(text) <= 80 else f"{text[:77]}..."


def _scrub(value: object) -> object:
    if isinstance(value, SecretStr):
        return _MASK
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Mapping):
        return {k: _MASK if k in SECRET_FIELDS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


# --- Building the raw section -----------------------------------------------


def raw_section(
    source: Source, *, profile: str | None, environ: Mapping[str, str]
) -> tuple[dict[str, Any], str]:
    """Build the raw ``tasks:`` dict and a phrase naming where it came from.

    Precedence, highest first: ``LEX_TASKS__*`` variables, the profile file,
    the base file (or dict), model defaults. A dict with a top-level ``tasks``
    key is file-shaped; a dict without one is the section itself.

    Raises:
        ConfigurationError: A file is missing or invalid, a required variable
            is unset, or an override variable is malformed.
    """
    if isinstance(source, Mapping):
        if profile:
            raise ConfigurationError(
                "a profile needs a configuration file",
                hint="use TaskConfig.from_yaml(path, profile=...) to overlay a profile",
            )
        inner = source.get(SECTION, source)
        section, origin = _section_of(inner, "configuration dict"), "from a dict"
    elif source is not None:
        base = Path(source)
        section, origin = _read_section(base), f"in {base}"
        profile = profile or environ.get(PROFILE_ENV) or None
        if profile is not None:
            overlay = _profile_path(base, profile)
            if not overlay.is_file():
                raise ConfigurationError(
                    f"profile {profile!r} was selected but {overlay} does not exist",
                    hint=f"create {overlay.name} next to {base.name}, or unset {PROFILE_ENV}",
                )
            section, origin = deep_merge(section, _read_section(overlay)), f"in {base} + {overlay}"
    else:
        section, origin = {}, "from the environment"
    return apply_env_overrides(interpolate(section, environ), environ), origin


def _read_section(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(
            f"configuration file not found: {path}",
            hint="check the path, or create the file with a 'tasks:' section",
        ) from None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read configuration file {path}: {exc.strerror}",
            hint="check the file's permissions",
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise _yaml_error(path, exc) from None
    if document is not None and not isinstance(document, dict):
        raise ConfigurationError(
            f"{path}: the top level must be a mapping, got {type(document).__name__}",
            hint="start the file with 'tasks:' and indent the settings under it",
        )
    return _section_of((document or {}).get(SECTION), str(path))


def _yaml_error(path: Path, exc: yaml.YAMLError) -> ConfigurationError:
    # str(exc) quotes the offending source line, which may hold a password, so
    # the message is rebuilt from the problem text and position only.
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or "invalid YAML"
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    return ConfigurationError(
        f"invalid YAML in {where}: {redact_text(str(problem))}",
        hint="fix the YAML syntax there (indentation, quoting, a ':' after each key)",
    )


def _section_of(value: object, origin: str) -> dict[str, Any]:
    # A deep copy, so that later steps never mutate the caller's data.
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigurationError(
            f"{origin}: 'tasks' must be a mapping, got {type(value).__name__}",
            hint="indent the settings under 'tasks:' as key: value pairs",
        )
    return copy.deepcopy(value)


def _profile_path(base: Path, profile: str) -> Path:
    # A plain word only: a profile must not point outside the base file's folder.
    if not _PROFILE_NAME.fullmatch(profile):
        raise ConfigurationError(
            f"invalid profile name {profile!r}",
            hint="use letters, digits, '_' or '-' only, e.g. LEX_PROFILE=prod",
        )
    return base.with_name(f"{base.stem}.{profile}{base.suffix}")


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``overlay`` onto ``base``: dicts merge key by key, anything else is replaced.

    Lists are replaced whole: merging by position would silently combine two
    unrelated ``backends:`` entries.
    """
    merged = dict(base)
    for key, value in overlay.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def interpolate(value: Any, environ: Mapping[str, str], path: str = SECTION) -> Any:
    """Replace ``${VAR}`` and ``${VAR:default}`` in every string, recursively.

    Results stay strings; the model coerces them to the field types.
    ``${VAR:}`` gives ``""``, and a default may contain ``:``.

    Raises:
        ConfigurationError: Variables without a default are unset; the message
            names each one and the config path where it appeared.
    """
    missing: list[tuple[str, str]] = []
    result = _interpolate(value, environ, path, missing)
    if missing:
        listed = "; ".join(f"{name!r} (used at {where})" for name, where in missing)
        names = ", ".join(sorted({name for name, _ in missing}))
        raise ConfigurationError(
            f"missing required environment variable(s): {listed}",
            hint=f"set {names}, or give a default with ${{VAR:default}}",
            details={"missing": [{"variable": n, "path": w} for n, w in missing]},
        )
    return result


def _interpolate(value: Any, environ: Mapping[str, str], path: str, missing: list[tuple[str, str]]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, environ, f"{path}.{k}", missing) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, environ, f"{path}[{i}]", missing) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1).strip(), match.group(2)
        if name in environ:
            return environ[name]
        if default is None:
            missing.append((name, path))
            return ""
        return default

    return _PLACEHOLDER.sub(substitute, value)


def parse_env_value(raw: str) -> Any:
    """Parse an override value: int, then float, then ``true``/``false``, else the string.

    Only plain decimal forms are numbers, so ``inf``, ``nan`` and ``1_000``
    stay strings.
    """
    if _INT.fullmatch(raw):
        return int(raw)
    if _FLOAT.fullmatch(raw):
        return float(raw)
    return raw.lower() == "true" if raw.lower() in ("true", "false") else raw


def apply_env_overrides(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Apply ``LEX_TASKS__A__B=value`` variables onto the section, in place, and return it.

    Segments are lower-cased and nest into dicts; a numeric segment indexes a
    list (``LEX_TASKS__BACKENDS__0__QUEUE_NAME``), the index one past the end
    appends. Values are not interpolated again.

    Raises:
        ConfigurationError: A variable has an empty segment, or an index past
            the end of its list.
    """
    for key, raw in sorted(environ.items()):
        if not key.upper().startswith(ENV_PREFIX):
            continue
        segments = [s.lower() for s in key[len(ENV_PREFIX) :].split("__")]
        if not all(segments):
            raise ConfigurationError(
                f"malformed override variable {key}: empty path segment",
                hint="separate keys with exactly two underscores, e.g. LEX_TASKS__WORKER__WORKER_COUNT=8",
            )
        node: Any = data
        for index, segment in enumerate(segments[:-1]):
            child = _get(node, segment, key)
            if not isinstance(child, dict | list):
                # A scalar (or nothing) where the override needs a container:
                # the environment wins, as it does for any other value.
                child = [] if segments[index + 1].isdigit() else {}
                _put(node, segment, child, key)
            node = child
        _put(node, segments[-1], parse_env_value(raw), key)
    return data


def _get(node: dict[str, Any] | list[Any], segment: str, key: str) -> Any:
    if isinstance(node, list):
        position = _list_index(node, segment, key)
        return node[position] if position < len(node) else None
    return node.get(segment)


def _put(node: dict[str, Any] | list[Any], segment: str, value: Any, key: str) -> None:
    if isinstance(node, dict):
        node[segment] = value
    elif (position := _list_index(node, segment, key)) == len(node):
        node.append(value)
    else:
        node[position] = value


def _list_index(node: list[Any], segment: str, key: str) -> int:
    if not segment.isdigit() or int(segment) > len(node):
        raise ConfigurationError(
            f"override variable {key}: {segment!r} is not a valid index for a list of {len(node)} item(s)",
            hint="use an existing index, or the list's length to append",
        )
    return int(segment)


# --- Reporting problems -----------------------------------------------------


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for the closest choice, or ``""`` when none is close."""
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def invalid_value(message: str, value: object) -> PydanticCustomError:
    """A field validator's error: ``message (got <value>)``, the value made safe to show."""
    # The text goes in ctx, not the template, so braces in a value stay inert.
    detail = f"{message} (got {show_value(value)})"
    return PydanticCustomError(_ERROR_TYPE, "{detail}", {"detail": detail})


def problem_error(found: list[Problem]) -> PydanticCustomError:
    """A model validator's errors, each at a path relative to the model."""
    detail = "; ".join(f"{'.'.join(map(str, path))}: {text}" for path, text in found)
    return PydanticCustomError(_ERROR_TYPE, "{detail}", {"detail": detail, "problems": found})


def configuration_error(exc: ValidationError, origin: str, root: type[BaseModel]) -> ConfigurationError:
    """Turn a ``ValidationError`` into one ``ConfigurationError`` listing every problem.

    Each line reads ``tasks.<path>: <what is wrong> (got <value>)``; the value
    of a secret field, and a mistyped key's value, are never shown.
    """
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        lines.extend(line for line in _describe(error, root) if line not in lines)
    count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
    listing = "\n".join(f"  - {line}" for line in lines)
    return ConfigurationError(
        f"invalid tasks configuration {origin} ({count}):\n{listing}",
        hint="fix each key listed above in the tasks: section or its LEX_TASKS__* variable",
        details={"problems": lines},
    )


def _describe(error: ErrorDetails, root: type[BaseModel]) -> list[str]:
    loc, ctx = error["loc"], error.get("ctx") or {}
    path, owner = _walk(loc, root)
    if error["type"] == _ERROR_TYPE:
        found: list[Problem] = ctx.get("problems") or []
        if found:
            return [f"{_walk((*loc, *rel), root)[0]}: {text}" for rel, text in found]
        return [f"{path}: {ctx['detail']}"]
    if error["type"] == "extra_forbidden":
        fields = list(owner.model_fields) if owner else []
        # No value shown: a mistyped key may well be a mistyped password field.
        guess = did_you_mean(str(loc[-1]), fields)
        return [f"{path}: unknown key; {guess}valid keys: {', '.join(fields)}"]
    if error["type"] == "missing":
        return [f"{path}: required"]
    text = redact_text(error["msg"][:1].lower() + error["msg"][1:])
    named = [part for part in loc if isinstance(part, str)]
    if named and named[-1] in SECRET_FIELDS:
        return [f"{path}: {text}"]
    return [f"{path}: {text} (got {show_value(error['input'])})"]


def _walk(loc: tuple[str | int, ...], root: type[BaseModel]) -> tuple[str, type[BaseModel] | None]:
    # The dotted path, skipping the union-member tags pydantic adds below a
    # leaf field, and the model that owns the last key (for "did you mean").
    path: str = SECTION
    model: type[BaseModel] | None = root
    owner: type[BaseModel] | None = None
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif model is not None:
            path, owner = f"{path}.{part}", model
            field = model.model_fields.get(part)
            model = _nested_model(field.annotation) if field else None
    return path, owner


def _nested_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (found := _nested_model(arg)) is not None:
            return found
    return None


__all__ = [
    "ENV_PREFIX",
    "PROFILE_ENV",
    "SECRET_FIELDS",
    "SECTION",
    "Problem",
    "Source",
    "apply_env_overrides",
    "configuration_error",
    "deep_merge",
    "did_you_mean",
    "interpolate",
    "invalid_value",
    "parse_env_value",
    "problem_error",
    "raw_section",
    "redact_text",
    "redact_url",
    "show_value",
]
