"""One redaction function for every connection-string form the drivers accept (issue 13)."""

from __future__ import annotations

import json
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lexigram_compat.config import BackendConfig
from lexigram_compat.config_loading import redact_text, redact_url
from lexigram_compat.redaction import redact, remember_secrets_of

# Characters a password may hold, including every one that needs URL-escaping
# and libpq quoting (space, quote, backslash) - but no line breaks.
PASSWORD_ALPHABET = st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp"), exclude_characters="\r\n"
)
PASSWORDS = st.text(PASSWORD_ALPHABET, min_size=8, max_size=24).filter(lambda s: s.strip() == s)


def libpq_quoted(password: str) -> str:
    """A libpq keyword value: single quotes, with ``\\`` and ``'`` escaped."""
    return "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"


def forms(password: str) -> list[str]:
    """Every connection-string form of PostgreSQL, Redis and AMQP, with ``password`` in it."""
    escaped = quote(password, safe="")
    return [
        f"postgresql://app:{escaped}@127.0.0.1:5432/app",
        f"postgres://app:{escaped}@db.example:5432/app?sslmode=require",
        f"postgresql://app@127.0.0.1/app?password={escaped}",
        f"postgresql:///app?host=/run/postgresql&password={escaped}&sslmode=disable",
        f"host=127.0.0.1 port=5432 dbname=app user=app password={libpq_quoted(password)}",
        f"dbname = app password = {libpq_quoted(password)} user=app",
        f"redis://:{escaped}@127.0.0.1:6379/0",
        f"redis://default:{escaped}@127.0.0.1:6379/0",
        f"rediss://:{escaped}@cache.example:6380/0?ssl_cert_reqs=none",
        f"redis://127.0.0.1:6379/0?password={escaped}",
        f"unix://:{escaped}@/run/redis.sock?db=0",
        f"redis+sentinel://:{escaped}@s1:26379/mymaster/0",
        f"sentinel://:{escaped}@s1:26379;sentinel://:{escaped}@s2:26379",
        f"redis://:{escaped}@h1:6379;redis://:{escaped}@h2:6379",
        f"amqp://guest:{escaped}@127.0.0.1:5672//",
        f"amqps://user:{escaped}@mq.example:5671/vhost",
        f"pyamqp://user:{escaped}@mq.example//;pyamqp://user:{escaped}@mq2.example//",
    ]


def leaked(password: str, text: str) -> list[str]:
    return [v for v in {password, quote(password, safe=""), quote_plus(password)} if v in text]


@given(PASSWORDS)
@settings(max_examples=60, deadline=None)
def test_no_form_keeps_its_password_raw_or_escaped(password: str) -> None:
    surroundings = "\n".join(forms("\x00")) + "error: cannot reach (timeout)"
    assume(not leaked(password, surroundings))  # e.g. "redis+se" is in the scheme itself
    for form in forms(password):
        for shown in (form, repr(form), json.dumps(form), f"error: cannot reach {form} (timeout)"):
            assert not leaked(password, redact(shown)), (form, redact(shown))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("host=h dbname=app user=app password=pw123", "host=h dbname=app user=app password=***"),
        ("host=h password='a b\\'c' user=u", "host=h password='***' user=u"),
        (
            "postgresql://u@h/db?password=pw&sslmode=require",
            "postgresql://u@h/db?password=***&sslmode=require",
        ),
        ("redis://h:6379/0?password=pw", "redis://h:6379/0?password=***"),
        (
            "sentinel://:a@s1:26379;sentinel://:b@s2:26379",
            "sentinel://:***@s1:26379;sentinel://:***@s2:26379",
        ),
        ("redis://justapassword@h:6379", "redis://***@h:6379"),
        ("amqp://guest@h//", "amqp://guest@h//"),
        ("{'host': 'h', 'password': 'pw'}", "{'host': 'h', 'password': '***'}"),
        ('{"password": "pw", "port": 1}', '{"password": "***", "port": 1}'),
        ("no secrets here: passwords are redacted", "no secrets here: passwords are redacted"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_config_module_names_are_the_same_function() -> None:
    text = "host=h password=pw"
    assert redact_text(text) == redact_url(text) == redact(text) == "host=h password=***"


def test_a_configured_password_is_hidden_wherever_a_driver_quotes_it() -> None:
    # A driver may quote a password out of any URL shape (a parse error, a repr).
    secret = "Zq7-unique-Pw!"
    BackendConfig(type="redis", redis_url=f"redis://:{quote(secret, safe='')}@h:6379/0")
    text = f"invalid literal near {secret!r} and {quote(secret, safe='')}"
    assert secret not in redact(text)
    assert quote(secret, safe="") not in redact(text)


def test_short_or_username_like_secrets_are_not_remembered() -> None:
    remember_secrets_of("amqp://guest:guest@h//")
    assert redact("user guest logged in") == "user guest logged in"
