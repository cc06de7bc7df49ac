"""Keeping passwords out of everything the library prints or logs.

:func:`redact` is the one function every boundary calls (CLI tables and
``--json``, log records, reprs, exception messages and ``--debug``
tracebacks). It hides the password of every connection-string form the
supported drivers accept:

- URLs with user info: ``postgresql://u:pw@h/db``, ``redis://:pw@h``,
  ``rediss://``, ``unix://:pw@/sock``, ``redis+sentinel://``, ``amqp://``,
  ``amqps://``, ``pyamqp://``, and kombu's ``;``-joined fail-over lists
  (``sentinel://:pw@a;sentinel://:pw@b``). On the Redis schemes a user info
  without ``:`` is hidden too (some clients read ``redis://pw@h`` as the password).
- Query parameters: ``?password=``, ``&sslpassword=`` (any key naming a
  password, secret or token).
- libpq keyword DSNs: ``host=h password=pw`` and ``password = 'a b\\'c'``.
- Mappings printed as Python or JSON: ``'password': 'pw'``, ``"password": "pw"``.

Patterns cannot see a password a driver quotes out of any such shape (a parse
error that cites a fragment, a repr of its connection arguments), so every
password met in a configured URL is also remembered
(:func:`remember_secrets_of`, called by config validation) and hidden verbatim
in all its spellings: raw, URL-escaped, ``repr``- and JSON-escaped. Only
passwords of :data:`MIN_REMEMBERED` characters or more are remembered, and not
one equal to its user name (``guest:guest``): hiding every short word would
garble ordinary output.

Hand-written rather than taken from a library: the drivers' own maskers
(kombu's ``maybe_sanitize_url``, SQLAlchemy's ``URL.render_as_string``) each
know one URL form, none the libpq keyword form or free text around it.
Over-redacting is safe, under-redacting leaks: a password runs to the last
``@`` of its URL, so one containing an unescaped ``@`` or ``/`` is hidden whole.
"""

from __future__ import annotations

import json
import re
import threading
from urllib.parse import quote, quote_plus, unquote, urlsplit

__all__ = ["MASK", "MIN_REMEMBERED", "forget_secrets", "redact", "remember_secret", "remember_secrets_of"]

MASK = "***"
MIN_REMEMBERED = 6
"""Shorter passwords are hidden by the patterns only, never verbatim."""

_SCHEME = r"[A-Za-z][A-Za-z0-9+.\-]*://"
_URL_IN_TEXT = re.compile(_SCHEME + r"\S+")
_NEXT_URL = re.compile(r";(?=" + _SCHEME + ")")
_USERINFO = re.compile(r"^(?P<scheme>" + _SCHEME + r")(?P<info>.*)@(?P<rest>[^@]*)$", re.DOTALL)
_USER = re.compile(r"[^:@/?#\s]*")
_SECRET_KEY = r"[A-Za-z_\-]*(?:pass(?:word|wd)?|pwd|secret|token)[A-Za-z_\-]*"
_QUERY_SECRET = re.compile(r"(?P<key>[?&;]" + _SECRET_KEY + r"=)(?P<value>[^&#\s]*)", re.IGNORECASE)
# libpq: a value is '...' (with \' and \\ escaped) or runs to the next blank; a
# Python repr of keyword arguments quotes with " as well. A quoted value must end
# where a value can end; when it does not (the text is itself a repr or JSON string,
# its quotes escaped once more), the value runs to the next "key=" or the line's end.
_VALUE_END = r"(?=\s|$|[,)\]}'\"])"
_UNTIL_NEXT_KEY = r"[^\n]*?(?=\s+[A-Za-z_]+\s*=|$)"
_KEYWORD_SECRET = re.compile(
    r"(?P<key>(?<![\w\-?&;])" + _SECRET_KEY + r"\s*=\s*)(?P<value>"
    r"'(?:[^'\\]|\\.)*'"
    + _VALUE_END
    + r"|\"(?:[^\"\\]|\\.)*\""
    + _VALUE_END
    + r"|\\*['\"]"
    + _UNTIL_NEXT_KEY
    + r"|[^\s'\"]+)",
    re.IGNORECASE | re.MULTILINE,
)
# A mapping printed by repr() or json.dumps(): 'password': 'pw' / "password": "pw".
_MAPPED_SECRET = re.compile(
    r"(?P<key>(?P<q>['\"])" + _SECRET_KEY + r"(?P=q)\s*:\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")",
    re.IGNORECASE,
)
_REDIS_SCHEMES = frozenset({"redis", "rediss", "unix", "redis+sentinel", "sentinel", "redis+socket"})

_lock = threading.Lock()
_remembered: dict[str, None] = {}
"""Every spelling of every remembered password (a dict: ordered, longest replaced first)."""


def redact(text: str) -> str:
    """``text`` with every password hidden as ``***``.

    Args:
        text: Any text: one URL or DSN, an error message, a log line, a traceback.

    Returns:
        The same text with each password (by form, or remembered verbatim) masked;
        text without one is returned unchanged.
    """
    if not text:
        return text
    text = _URL_IN_TEXT.sub(lambda m: _redact_urls(m.group(0)), text)
    text = _MAPPED_SECRET.sub(_mask_quoted, text)
    text = _KEYWORD_SECRET.sub(_mask_value, text)
    for spelling in _spellings_in_use():
        if spelling in text:
            text = text.replace(spelling, MASK)
    return text


def remember_secret(secret: str) -> None:
    """Hide ``secret`` verbatim from now on, in every spelling (see the module docstring)."""
    if len(secret) < MIN_REMEMBERED:
        return
    variants = {
        secret,
        quote(secret, safe=""),
        quote(secret),
        quote_plus(secret),
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        secret.replace("\\", "\\\\").replace("'", "\\'"),
    }
    with _lock:
        for variant in sorted(variants, key=len, reverse=True):
            if len(variant) >= MIN_REMEMBERED:
                _remembered.setdefault(variant, None)


def remember_secrets_of(connection: str) -> None:
    """Remember the password(s) inside a URL, fail-over list or libpq keyword DSN."""
    for part in _NEXT_URL.split(connection):
        for secret, user in _passwords_in(part):
            if secret and secret != user:
                remember_secret(secret)


def forget_secrets() -> None:
    """Forget every remembered password (tests that run many configurations in one process)."""
    with _lock:
        _remembered.clear()


def _spellings_in_use() -> list[str]:
    with _lock:
        return sorted(_remembered, key=len, reverse=True)


def _passwords_in(connection: str) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    if re.match(_SCHEME, connection):
        match = _USERINFO.match(connection)
        if match is not None and _USER.fullmatch(match["info"].partition(":")[0]):
            user, colon, password = match["info"].partition(":")
            if colon:
                found.append((unquote(password), unquote(user)))
            elif _scheme_of(match["scheme"]) in _REDIS_SCHEMES and user:
                found.append((unquote(user), None))
        try:
            query = urlsplit(connection).query
        except ValueError:
            query = connection.partition("?")[2]
        for pair in query.split("&"):
            key, _, value = pair.partition("=")
            if re.fullmatch(_SECRET_KEY, key, re.IGNORECASE):
                found.append((unquote(value), None))
        return found
    for match in _KEYWORD_SECRET.finditer(connection):
        value = match["value"]
        if value[:1] in ("'", '"'):
            end = -1 if len(value) > 1 and value.endswith(value[0]) else None
            value = re.sub(r"\\(.)", r"\1", value[1:end])
        found.append((value, None))
    return found


def _scheme_of(prefix: str) -> str:
    return prefix[: -len("://")].lower()


def _redact_urls(token: str) -> str:
    return ";".join(_redact_one_url(part) for part in _NEXT_URL.split(token))


def _redact_one_url(url: str) -> str:
    match = _USERINFO.match(url)
    if match is not None and _USER.fullmatch(match["info"].partition(":")[0]):
        user, colon, _ = match["info"].partition(":")
        if colon:
            url = f"{match['scheme']}{user}:{MASK}@{match['rest']}"
        elif user and _scheme_of(match["scheme"]) in _REDIS_SCHEMES:
            url = f"{match['scheme']}{MASK}@{match['rest']}"
    return _QUERY_SECRET.sub(_mask_value, url)


def _mask_value(match: re.Match[str]) -> str:
    value = match["value"]
    if value[:1] in ("'", '"') and len(value) > 1 and value.endswith(value[0]):
        return f"{match['key']}{value[0]}{MASK}{value[0]}"
    return f"{match['key']}{MASK}"


def _mask_quoted(match: re.Match[str]) -> str:
    quote_char = match["value"][0]
    return f"{match['key']}{quote_char}{MASK}{quote_char}"
