"""The README is executable documentation: its commands, examples and table must stay true."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from lexigram_compat.adapters.table import END, START, rewrite

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def _run_example(path: str) -> str:
    done = subprocess.run(
        [sys.executable, path], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_readme_opens_with_exactly_the_two_commands() -> None:
    first_block = re.search(r"```bash\n(.*?)```", README, flags=re.S)
    assert first_block is not None
    commands = [line.split("#")[0].strip() for line in first_block.group(1).splitlines() if line.strip()]
    assert commands == ["./scripts/quickstart", "./scripts/test"]
    assert (ROOT / "scripts/quickstart").stat().st_mode & 0o111
    assert "scripts/test" in (ROOT / ".ci/run").read_text()


def test_readme_has_python_examples() -> None:
    assert len(PYTHON_BLOCKS) >= 2


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"example{i}" for i in range(len(PYTHON_BLOCKS))])
def test_readme_python_example_runs(block: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr


def test_capability_table_matches_the_engines() -> None:
    assert START in README
    assert END in README
    assert rewrite(README) == README, "run: python -m lexigram_compat.adapters.table README.md"


def test_quickstart_tells_the_whole_story() -> None:
    out = _run_example("examples/quickstart.py")
    assert "attempt 1 failed (profile service timed out), attempt 2 succeeded" in out
    assert "after 2 attempts: RuntimeError" in out
    assert "dead letters left: 0" in out
    assert "midnight fire time -> 1 job; ticking the same window again -> 0 more" in out
    assert out.rstrip().endswith("nothing was lost.")


def test_sync_example_runs_jobs_from_sync_code() -> None:
    out = _run_example("examples/sync_app.py")
    assert "enqueued 3 invoice jobs from sync code" in out
    assert "worker ran 3 attempts" in out
    assert "invoice #3 for customer-3" in out
