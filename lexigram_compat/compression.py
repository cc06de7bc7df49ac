"""Compressed job arguments: the codecs ``compression=`` accepts, and the packed form.

A job enqueued with ``compression="zlib"`` (on ``@task`` or per call) carries its
arguments compressed on every engine: the JSON of ``[args, kwargs]`` is compressed,
then base64-encoded (every engine's wire format is JSON), and the worker unpacks
it before the task's arguments are decoded. The names are Celery's (kombu's
registry): ``"gzip"`` is an alias of ``"zlib"`` there, and so it is here.

Hand-written over the standard library's codecs rather than kombu's registry: kombu
is the Celery extra's dependency, and every engine needs this.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import zlib
from collections.abc import Callable
from typing import Any

from lexigram_compat.serialization import dumps, loads

__all__ = ["CODECS", "KOMBU_CONTENT_TYPES", "CompressionError", "pack", "unpack", "validate_compression"]

_Codec = tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]

CODECS: dict[str, _Codec] = {
    "zlib": (zlib.compress, zlib.decompress),
    "gzip": (zlib.compress, zlib.decompress),  # kombu's alias of zlib (same bytes)
    "bzip2": (bz2.compress, bz2.decompress),
    "lzma": (lzma.compress, lzma.decompress),
}
"""Codec name → (compress, decompress)."""

KOMBU_CONTENT_TYPES = {
    "zlib": "application/x-gzip",
    "gzip": "application/x-gzip",
    "bzip2": "application/x-bz2",
    "lzma": "application/x-lzma",
}
"""The ``compression`` header kombu writes (and a plain Celery worker reads) per codec."""


class CompressionError(ValueError):
    """A packed payload that cannot be unpacked."""


def validate_compression(value: object, where: str) -> str | None:
    """``value`` as a codec name (``None``: no compression); ``ValueError`` naming the
    supported codecs otherwise."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in CODECS:
        raise ValueError(
            f"{where}: compression={value!r} is not supported; use one of "
            f"{', '.join(repr(name) for name in CODECS)} (or None)"
        )
    return value


def pack(codec: str, args: list[Any], kwargs: dict[str, Any]) -> str:
    """The compressed, base64 text of ``[args, kwargs]``."""
    compress, _ = CODECS[codec]
    return base64.b64encode(compress(dumps([args, kwargs]))).decode("ascii")


def unpack(codec: object, packed: object) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` from :func:`pack`'s text; :class:`CompressionError` otherwise."""
    if not isinstance(codec, str) or codec not in CODECS:
        raise CompressionError(f"unknown compression {codec!r}; known: {', '.join(CODECS)}")
    if not isinstance(packed, str):
        raise CompressionError(f"packed arguments must be base64 text, got {type(packed).__name__}")
    _, decompress = CODECS[codec]
    try:
        data = loads(decompress(base64.b64decode(packed, validate=True)))
    except (binascii.Error, zlib.error, OSError, lzma.LZMAError, ValueError, UnicodeDecodeError) as exc:
        raise CompressionError(f"packed arguments ({codec}) cannot be read: {exc}") from None
    if not (
        isinstance(data, list) and len(data) == 2 and isinstance(data[0], list) and isinstance(data[1], dict)
    ):
        raise CompressionError("packed arguments must be [args, kwargs]")
    return data[0], data[1]
