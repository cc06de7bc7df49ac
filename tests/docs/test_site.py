"""The documentation site: it builds with --strict, and its references are complete.

The code blocks of its pages are run by ``test_site_code.py``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import griffe
import pytest

import lexigram_compat
from lexigram_compat.config import TaskConfig

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
API_PAGE = DOCS / "reference" / "api.md"


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOKS = _hooks()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once with ``mkdocs build --strict`` (a warning fails the build)."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_the_site_builds_strict_with_every_page(site: Path) -> None:
    pages = [
        "index.html",
        "getting-started/index.html",
        "concepts/index.html",
        "engines/index.html",
        "engines/memory/index.html",
        "engines/postgres/index.html",
        "engines/dramatiq/index.html",
        "engines/celery/index.html",
        "configuration/index.html",
        "cli/index.html",
        "migration/index.html",
        "operations/index.html",
        "performance/index.html",
        "reliability/index.html",
        "reference/api/index.html",
        "changelog/index.html",
    ]
    missing = [page for page in pages if not (site / page).is_file()]
    assert not missing


def test_the_api_page_lists_exactly_the_public_names() -> None:
    listed = re.findall(r"^::: lexigram_compat\.(\S+)$", API_PAGE.read_text(), flags=re.M)
    assert len(listed) == len(set(listed)), "a name is listed twice"
    assert set(lexigram_compat.__all__) - set(listed) == set(), "add these to docs/reference/api.md"
    assert set(listed) - set(lexigram_compat.__all__) == set(), "not public: remove from the API page"


def test_the_built_api_reference_renders_every_public_name(site: Path) -> None:
    html = (site / "reference" / "api" / "index.html").read_text()
    absent = [name for name in lexigram_compat.__all__ if f'id="lexigram_compat.{name}"' not in html]
    assert not absent


def test_every_public_name_and_method_has_a_docstring() -> None:
    package = griffe.load("lexigram_compat", docstring_parser="google", resolve_aliases=True)
    missing: list[str] = []
    for name in lexigram_compat.__all__:
        obj = package[name]
        target = obj.final_target if obj.is_alias else obj
        if target.docstring is None or not target.docstring.value.strip():
            missing.append(name)
        if not target.is_class:
            continue
        for member_name, member in target.members.items():
            real = member.final_target if member.is_alias else member
            if member_name.startswith("_") or not real.is_function:
                continue
            if real.docstring is None or not real.docstring.value.strip():
                missing.append(f"{name}.{member_name}")
    assert missing == [], "add Google-style docstrings to these public names"


def test_the_cli_reference_has_every_command(site: Path) -> None:
    from lexigram_compat.cli import cli

    html = (site / "cli" / "index.html").read_text()
    for name, command in cli.commands.items():
        assert f"lexigram-compat {name}" in html
        for sub in getattr(command, "commands", {}):
            assert f"lexigram-compat {name} {sub}" in html


def test_the_configuration_reference_has_every_key(site: Path) -> None:
    html = (site / "configuration" / "index.html").read_text()
    rows = HOOKS.config_rows()
    keys = [row[0] for row in rows]
    assert "tasks.worker.max_concurrent_tasks" in keys
    assert "tasks.backends[N].name" in keys
    for key in keys:
        assert f"<code>{key}</code>" in html
    sections = {"backend", "worker", "scheduler", "retry", "retention"}
    for section in sections:
        model = type(getattr(TaskConfig(), section))
        for field in model.model_fields:
            assert f"tasks.{section}.{field}" in keys


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("tasks.worker.max_concurrent_tasks", "17", 17),
        ("tasks.worker.shutdown_timeout", "12.5", 12.5),
        ("tasks.scheduler.enabled", "false", False),
        ("tasks.scheduler.timezone", "Europe/Berlin", "Europe/Berlin"),
        ("tasks.retry.jitter", "0.25", 0.25),
        ("tasks.retention.dead_letter_max", "50", 50),
        ("tasks.backend.queue_name", "jobs", "jobs"),
        ("tasks.max_payload_bytes", "2048", 2048),
        ("tasks.worker.queues", "emails", ["emails"]),
        ("tasks.extra", "7", {"anything": 7}),
    ],
)
def test_the_documented_variable_of_a_key_sets_it(key: str, raw: str, expected: object) -> None:
    (row,) = [row for row in HOOKS.config_rows() if row[0] == key]
    variable = row[4].strip("`").replace("__N", "__0").replace("<key>", "ANYTHING")
    config = TaskConfig.from_dict({"tasks": {}}, environ={variable: raw})
    value: object = config
    for part in key.split(".")[1:]:
        value = getattr(value, part)
    assert value == expected


def test_a_field_without_a_description_fails_the_reference() -> None:
    from pydantic import BaseModel

    class Undocumented(BaseModel):
        """A section.

        Attributes:
            documented: Has a line.
        """

        documented: int = 1
        silent: int = 2

    with pytest.raises(ValueError, match=r"Undocumented\.silent has no description"):
        HOOKS.config_rows(Undocumented, ("tasks", "x"))


def test_included_files_keep_working_links() -> None:
    text = HOOKS.include("benchmarks/RESULTS.md", "https://example.invalid/repo")
    assert "](README.md)" not in text
    assert "](https://example.invalid/repo/blob/main/benchmarks/README.md)" in text
    with pytest.raises(FileNotFoundError, match=r"no/such\.md"):
        HOOKS.include("no/such.md", "https://example.invalid/repo")


@pytest.mark.parametrize("name", ["home.png", "engine-postgres.png"])
def test_the_screenshots_are_committed(name: str) -> None:
    data = (DOCS / "images" / name).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1280, 1000), "retake them with: scripts/docs screenshots"


def test_sphinx_roles_render_as_code() -> None:
    html = ":class:<code>~lexigram_compat.errors.ConfigurationError</code> and :meth:<code>s</code>"
    assert HOOKS.on_page_content(html) == "<code>ConfigurationError</code> and <code>s</code>"


def test_click_unset_defaults_render_as_their_meaning() -> None:
    row = "<td>boolean</td>\n<td>Show it.</td>\n<td><code>Sentinel.UNSET</code></td>"
    assert HOOKS.on_page_content(row) == "<td>boolean</td>\n<td>Show it.</td>\n<td><code>false</code></td>"
    other = "<td>text</td>\n<td>A name.</td>\n<td><code>Sentinel.UNSET</code></td>"
    assert HOOKS.on_page_content(other) == "<td>text</td>\n<td>A name.</td>\n<td></td>"
