"""``lexigram-compat migrate celery``: dry run, --write, --report, --json, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from lexigram_compat.cli import cli
from tests.migrate.golden import CORPUS, EXPECTED


def _project(tmp_path: Path) -> Path:
    target = tmp_path / "storefront"
    shutil.copytree(CORPUS / "storefront", target)
    return target


def test_dry_run_prints_the_diff_and_the_report_and_writes_nothing(tmp_path: Path) -> None:
    project = _project(tmp_path)
    before = (project / "orders/tasks.py").read_text()
    result = CliRunner().invoke(cli, ["migrate", "celery", str(project), "--to", "neutral"])
    assert result.exit_code == 0, result.output
    assert "-from celery import shared_task" in result.stdout
    assert "+@task(" in result.stdout
    assert "Summary (found / converted / left):" in result.stderr
    assert (project / "orders/tasks.py").read_text() == before


def test_write_applies_and_a_second_run_has_no_diff(tmp_path: Path) -> None:
    project = _project(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["migrate", "celery", str(project), "--to", "shims", "--write"]).exit_code == 0
    expected = (EXPECTED / "shims/storefront/orders/tasks.py").read_text()
    assert (project / "orders/tasks.py").read_text() == expected
    again = runner.invoke(cli, ["migrate", "celery", str(project), "--to", "shims"])
    assert again.exit_code == 0
    assert again.stdout == ""


def test_json_and_report_file(tmp_path: Path) -> None:
    project = _project(tmp_path)
    report = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli, ["migrate", "celery", str(project), "--to", "neutral", "--json", "--report", str(report)]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["mode"] == "neutral"
    assert document["written"] is False
    assert document["summary"]["definitions"]["found"] == 9
    constructs = {(Path(f["path"]).name, f["line"]) for f in document["left"]}
    assert ("test_orders.py", 6) in constructs  # mock.patch("...send_order_confirmation.delay")
    saved = json.loads(report.read_text())
    assert saved["summary"] == document["summary"]


def test_text_report_file(tmp_path: Path) -> None:
    project = _project(tmp_path)
    report = tmp_path / "report.txt"
    result = CliRunner().invoke(cli, ["migrate", "celery", str(project), "--report", str(report)])
    assert result.exit_code == 0
    assert report.read_text().startswith("lexigram-compat migrate celery --to shims:")


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["migrate", "celery", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
