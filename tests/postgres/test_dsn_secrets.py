"""A malformed DSN is refused naming the setting, never echoing the password
(the driver's own message quotes the token it could not parse)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from lexigram_compat import ConfigurationError
from tests.conformance.harness import SUITE_SECTION, deep_merge
from tests.conformance.subprocess_harness import REPO_ROOT

from .workers import build_postgres_app

SECRET = "s3cr%zzet"
BAD_DSN = f"postgresql://u:{SECRET}@127.0.0.1/db"


def test_the_engine_refuses_a_malformed_dsn_without_quoting_it(tmp_path: Path) -> None:
    section = deep_merge(
        SUITE_SECTION, {"engine": "native", "backend": {"type": "postgres", "postgres_dsn": BAD_DSN}}
    )
    with pytest.raises(ConfigurationError) as refused:
        build_postgres_app(section, tmp_path / "r.jsonl")

    text = f"{refused.value} {refused.value.hint or ''} {refused.value!r}"
    assert "tasks.backend.postgres_dsn" in text
    assert "zzet" not in text


async def test_db_migrate_refuses_a_malformed_dsn_without_quoting_it() -> None:
    command = [sys.executable, "-m", "lexigram_compat.cli", "db", "migrate", "--dsn", BAD_DSN]
    done = await asyncio.to_thread(
        subprocess.run, command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert done.returncode != 0
    assert "--dsn" in done.stderr
    assert "zzet" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
