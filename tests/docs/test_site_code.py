"""Every code block of the documentation site is run, page by page, in a project folder of its own.

What "run" means depends on the block's language:

- ``python``: executed as a script (``python block.py``) against the real servers. A block
  whose first line is ``# path/to/file.py`` is a file of the page's project: it is written
  there and imported (``import path.to.file``), so later blocks of the page can use it.
- ``yaml``: parsed and validated as a ``tasks:`` section by ``TaskConfig`` (with
  ``DATABASE_URL``, ``REDIS_URL`` and ``AMQP_URL`` set). A first line ``# name.yaml`` also
  writes it into the page's project.
- ``sql``: executed in a scratch database migrated to the current schema.
- ``bash``/``sh``/``console``: every command line (``$ `` lines in ``console``) is checked
  against the real program: ``lexigram-compat`` commands whose APP module exists in the page's
  project are run (except the long-running ``worker`` and ``scheduler``), the others are parsed
  by the real click commands; ``dramatiq``/``celery`` options must appear in that CLI's
  ``--help``; ``pip install`` extras must exist in pyproject.toml; ``./scripts/*`` must be
  executable; ``python -m X`` must name an importable module; ``cd DIR`` must name a folder of
  the repository, ``export`` take ``NAME=value`` words, and ``python manage.py COMMAND`` name a
  command of the Django example (``examples/celery_django``, run by ``tests/django_example``).

- ``text``: a figure drawn in characters (no code): it must fit 100 columns, so it renders
  without wrapping.

A block in any other language, or a command of an unknown program, fails the test: give it
a rule here.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import click
import psycopg
import pytest
import yaml
from packaging.requirements import Requirement

from lexigram_compat.cli import cli
from lexigram_compat.config import TaskConfig
from tests.postgres.databases import ScratchDatabase, create_test_database
from tests.services import Service

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLE = ROOT / "examples" / "celery_django"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)[^\n]*\n(?P<body>.*?)^```$", re.M | re.S)
INCLUDE = re.compile(r"^<!-- include: (?P<path>\S+) -->$", re.M)
FILE_LINE = re.compile(r"^# (?P<path>[\w./-]+\.(?:py|ya?ml))\n")
EXTRAS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
LONG_RUNNING = {"worker", "scheduler"}


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language and its text."""

    source: Path
    line: int
    lang: str
    body: str

    def __str__(self) -> str:
        return f"{self.source.relative_to(ROOT)}:{self.line} ({self.lang or 'no language'})"


def page_sources() -> list[Path]:
    """The site's pages, each followed by the files it includes from outside docs/."""
    sources: list[Path] = []
    for page in sorted(DOCS.rglob("*.md")):
        sources.append(page)
        sources.extend(ROOT / m.group("path") for m in INCLUDE.finditer(page.read_text()))
    return sources


def blocks_of(source: Path) -> list[Block]:
    text = source.read_text()
    return [
        Block(source, text.count("\n", 0, m.start()) + 1, m.group("lang"), m.group("body"))
        for m in FENCE.finditer(text)
    ]


PAGES = {page: blocks for page in page_sources() if (blocks := blocks_of(page))}


@pytest.fixture
async def database(postgres_service: Service) -> AsyncIterator[ScratchDatabase]:
    db = await create_test_database(postgres_service.url)
    try:
        yield db
    finally:
        await db.drop()


@pytest.fixture
def page_env(database: ScratchDatabase, redis_service: Service, tmp_path: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": database.dsn,
        "REDIS_URL": f"{redis_service.url}/0",
        "AMQP_URL": "amqp://guest:guest@127.0.0.1:5672/%2f",
        # The checkout under test first (a worktree beside an editable install imports its own code).
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    env.pop("LEX_PROFILE", None)
    for key in [key for key in env if key.startswith("LEX_TASKS__")]:
        env.pop(key)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str], block: Block) -> str:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, f"{block}: {' '.join(argv)} exited {done.returncode}\n{done.stderr[-3000:]}"
    return done.stdout


def _write(project: Path, relative: str, body: str) -> Path:
    target = project / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    for folder in target.relative_to(project).parents:
        if folder != Path(".") and target.suffix == ".py":
            (project / folder / "__init__.py").touch()
    target.write_text(body)
    return target


def run_python(block: Block, project: Path, env: dict[str, str]) -> None:
    named = FILE_LINE.match(block.body)
    if named and named.group("path").endswith(".py") and "/" in named.group("path"):
        path = _write(project, named.group("path"), block.body)
        module = ".".join(path.relative_to(project).with_suffix("").parts)
        _run([sys.executable, "-c", f"import {module}"], project, env, block)
        return
    name = named.group("path") if named else f"block_{block.line}.py"
    _write(project, name, block.body)
    _run([sys.executable, name], project, env, block)


def run_yaml(block: Block, project: Path, env: dict[str, str]) -> None:
    named = FILE_LINE.match(block.body)
    if named:
        _write(project, named.group("path"), block.body)
    data = yaml.safe_load(block.body)
    assert isinstance(data, dict), f"{block}: not a mapping"
    assert "tasks" in data, f"{block}: a YAML block must be a tasks: section"
    TaskConfig.from_dict(data, environ=env)


def run_sql(block: Block, env: dict[str, str]) -> None:
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(block.body.encode())


def _commands(block: Block) -> list[list[str]]:
    lines = block.body.splitlines()
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands = []
    for line in lines:
        words = shlex.split(line, comments=True)
        if words:
            commands.append(words)
    return commands


def _help_of(program: str, *sub: str) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).parent / program), *sub, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.stdout + done.stderr


def _unparsed(context: click.Context) -> list[str]:
    """A group's subcommand and its arguments (click 8.2 renamed the attribute holding the
    first of them, and deprecated the old name)."""
    state = vars(context)
    return [*state.get("_protected_args", state.get("protected_args", [])), *context.args]


def _check_lexigram_compat(words: list[str], project: Path, env: dict[str, str], block: Block) -> None:
    args = words[1:]
    try:
        context = cli.make_context("lexigram-compat", list(args))
        group: click.Group = cli
        rest = _unparsed(context)
        while rest and isinstance(group, click.Group):
            command = group.get_command(context, rest[0])
            assert command is not None, f"{block}: no command {rest[0]!r} in {' '.join(words)}"
            context = command.make_context(rest[0], rest[1:], parent=context)
            rest = _unparsed(context) if isinstance(command, click.Group) else []
            group = command  # type: ignore[assignment]
    except click.ClickException as exc:
        pytest.fail(f"{block}: {' '.join(words)}: {exc.format_message()}")
    app = next((word for word in args if re.fullmatch(r"[\w.]+:\w+", word)), None)
    command_name = next((word for word in args if not word.startswith("-")), "")
    module = app.partition(":")[0] if app else None
    exists = module is not None and (project / Path(*module.split("."))).with_suffix(".py").is_file()
    if exists and command_name not in LONG_RUNNING:
        _run([str(Path(sys.executable).parent / "lexigram-compat"), *args], project, env, block)


def _check_native_cli(words: list[str], block: Block) -> None:
    """Each option must appear in the real CLI's help: Celery's global options (``-A``) in
    ``celery --help``, a subcommand's in ``celery <subcommand> --help``."""
    program = words[0]
    sub_at = next(
        (i for i, w in enumerate(words) if program == "celery" and w in ("worker", "beat", "inspect")), None
    )
    parts = [(words[1:sub_at], _help_of(program))]
    if sub_at is not None:
        parts.append((words[sub_at + 1 :], _help_of(program, words[sub_at])))
    for options, text in parts:
        for word in options:
            if word.startswith("-"):
                flag = word.split("=")[0]
                found = re.search(rf"(^|[\s,\[]){re.escape(flag)}\b", text)
                assert found, f"{block}: {program} has no {flag}"


def check_command(words: list[str], project: Path, env: dict[str, str], block: Block) -> None:
    program = words[0]
    if program == "lexigram-compat":
        _check_lexigram_compat(words, project, env, block)
    elif program in ("dramatiq", "celery"):
        _check_native_cli(words, block)
    elif program == "pip" and words[1:2] == ["install"]:
        for spec in words[2:]:
            req = Requirement(spec)
            assert req.name == "lexigram-compat", f"{block}: installs {req.name}"
            assert req.extras <= EXTRAS, f"{block}: no extra {sorted(req.extras - EXTRAS)}"
    elif program.startswith("./scripts/"):
        script = ROOT / program
        assert script.is_file(), f"{block}: {program} does not exist"
        assert os.access(script, os.X_OK), f"{block}: {program} is not executable"
    elif program == "cd":
        assert len(words) == 2, f"{block}: cd takes one folder: {words[1:]}"
        assert (ROOT / words[1]).is_dir(), f"{block}: no folder {words[1]} in the repository"
    elif program == "export":
        for word in words[1:]:
            assert re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", word), f"{block}: export {word!r} is not NAME=value"
    elif program == "python" and words[1:2] == ["manage.py"]:
        # The Django example's commands (run for real by tests/django_example).
        commands = {"migrate", *(p.stem for p in EXAMPLE.glob("*/management/commands/[a-z]*.py"))}
        assert len(words) > 2, f"{block}: manage.py without a command"
        assert words[2] in commands, f"{block}: manage.py has no command {words[2]!r}"
    elif program == "python" and words[1:2] == ["-m"]:
        module = words[2]
        done = subprocess.run(
            [sys.executable, "-c", f"import importlib.util as u; assert u.find_spec({module!r})"],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"{block}: no module {module}"
    else:
        pytest.fail(f"{block}: no rule checks the program {program!r}; add one to {Path(__file__).name}")


FIGURE_COLUMNS = 100


@pytest.mark.services("postgres", "redis")
@pytest.mark.parametrize("page", list(PAGES), ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_code_block_of_the_page_runs(page: Path, page_env: dict[str, str], tmp_path: Path) -> None:
    for block in PAGES[page]:
        if block.lang == "python":
            run_python(block, tmp_path, page_env)
        elif block.lang == "yaml":
            run_yaml(block, tmp_path, page_env)
        elif block.lang == "sql":
            run_sql(block, page_env)
        elif block.lang in ("bash", "sh", "console"):
            for words in _commands(block):
                check_command(words, tmp_path, page_env, block)
        elif block.lang == "text":
            wide = [line for line in block.body.splitlines() if len(line) > FIGURE_COLUMNS]
            assert not wide, f"{block}: a figure line is wider than {FIGURE_COLUMNS} columns: {wide[0]!r}"
        else:
            pytest.fail(f"{block}: no rule runs {block.lang or 'a block without a language'}")


def test_the_pages_have_code_to_run() -> None:
    langs = {block.lang for blocks in PAGES.values() for block in blocks}
    assert {"python", "yaml", "console", "sql"} <= langs
    engines = {page.name for page in PAGES if page.parent.name == "engines"}
    assert {"memory.md", "postgres.md", "dramatiq.md", "celery.md"} <= engines


def test_a_broken_command_fails() -> None:
    block = Block(DOCS / "cli.md", 1, "console", "$ lexigram-compat worker myproj.jobs:app --concurency 3\n")
    (words,) = _commands(block)
    with pytest.raises(pytest.fail.Exception, match="No such option"):
        check_command(words, DOCS, dict(os.environ), block)
