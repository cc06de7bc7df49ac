"""Engine settings under ``tasks.extra``: a misspelt PostgreSQL key is refused,
naming it and the key it was probably meant to be."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexigram_compat import ConfigurationError
from tests.conformance.harness import SUITE_SECTION, deep_merge

from .databases import ScratchDatabase
from .workers import build_postgres_app


def _section(database: ScratchDatabase, extra: dict[str, object]) -> dict[str, object]:
    return deep_merge(
        SUITE_SECTION,
        {"engine": "native", "backend": {"type": "postgres", "postgres_dsn": database.dsn}, "extra": extra},
    )


@pytest.mark.parametrize("key", ["postgres_shema", "postgresql_schema", "postgres_pool"])
def test_an_unknown_postgres_setting_is_refused(database: ScratchDatabase, tmp_path: Path, key: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        build_postgres_app(_section(database, {key: "x"}), tmp_path / "r.jsonl")

    text = f"{refused.value} {refused.value.hint or ''}"
    assert f"tasks.extra.{key}" in text
    assert "postgres_schema" in text


def test_other_engines_settings_are_left_alone(database: ScratchDatabase, tmp_path: Path) -> None:
    app = build_postgres_app(_section(database, {"dramatiq": {"namespace": "x"}}), tmp_path / "r.jsonl")
    assert app is not None
