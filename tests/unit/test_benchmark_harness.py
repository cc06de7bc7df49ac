"""The benchmark harness runs end to end on tiny workloads (no timing thresholds:
only that every figure is produced, positive, and lands in the file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.harness import (
    METRICS,
    Scenario,
    SubjectResult,
    load_subject,
    percentile,
    run_benchmark,
)
from benchmarks.results import END, START, render, update_results
from benchmarks.run import main

FACADE = "memory (facade)"
FLOOR = "memory (raw asyncio.Queue floor)"


def _row(text: str, title: str) -> list[str]:
    rows = [line for line in text.splitlines() if line.startswith(f"| {title} |")]
    assert rows, f"no row for {title!r} in:\n{text}"
    return [cell.strip() for cell in rows[0].strip("|").split("|")]


def test_cli_writes_a_table_of_positive_figures_for_the_memory_subjects(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    argv = ["--subjects", "memory,memory-floor", "--jobs", "50", "--latency-jobs", "20"]
    argv += ["--batch", "7", "--repeat", "2", "--baseline", "memory-floor", "--out", str(out)]

    assert main(argv) == 0

    text = out.read_text(encoding="utf-8")
    assert "python -m benchmarks.run --subjects memory,memory-floor --jobs 50" in text
    for title in (FACADE, FLOOR):
        cells = _row(text, title)
        figures = [float(c.replace(",", "")) for c in cells[1 : 1 + len(METRICS)]]
        assert all(f > 0 for f in figures), cells
        ratios = cells[1 + len(METRICS) :]
        assert len(ratios) == len(METRICS)
        assert all(float(r.removesuffix("x")) > 0 for r in ratios), cells
    assert _row(text, FLOOR)[1 + len(METRICS) :] == ["1x"] * len(METRICS)
    assert text.count(f"| {FACADE} | ") == 3  # the median row and one per repeat


async def test_every_repeat_of_every_subject_is_measured() -> None:
    scenario = Scenario(jobs=30, latency_jobs=5, batch=4, repeat=2, warmup=False)

    results = await run_benchmark(["memory", "memory-floor"], scenario)

    assert [r.title for r in results] == [FACADE, FLOOR]
    for result in results:
        assert len(result.repeats) == 2
        for values in result.repeats:
            assert all((values[m.key] or 0) > 0 for m in METRICS), values


def test_rerun_replaces_the_figures_and_keeps_the_notes(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    out.write_text(f"# Results\n\n{START}\nold figures\n{END}\n\n## Notes\n\nkeep me\n", encoding="utf-8")

    update_results(out, "new figures")
    update_results(out, "newer figures")

    text = out.read_text(encoding="utf-8")
    assert "newer figures" in text
    assert "old figures" not in text
    assert "new figures\n" not in text
    assert text.count(START) == text.count(END) == 1
    assert text.endswith("## Notes\n\nkeep me\n")


def test_a_file_without_markers_keeps_its_text_after_the_figures(tmp_path: Path) -> None:
    out = tmp_path / "RESULTS.md"
    out.write_text("hand-written analysis\n", encoding="utf-8")

    update_results(out, "figures")

    text = out.read_text(encoding="utf-8")
    assert text.index("figures") < text.index(END) < text.index("hand-written analysis")


def test_a_missing_operation_reads_n_a_and_gets_no_ratio() -> None:
    full = SubjectResult("a", "subject a", [{m.key: 2.0 for m in METRICS}])
    partial = SubjectResult("b", "subject b", [{**{m.key: 1.0 for m in METRICS}, "enqueue_many": None}])

    text = render([full, partial], Scenario(repeat=1), "cmd", baseline="a")

    cells = _row(text, "subject b")
    assert cells[2] == "n/a"
    assert cells[1 + len(METRICS) + 1] == "n/a"
    assert cells[1 + len(METRICS)] == "0.5x"


def test_unknown_subject_names_the_close_one() -> None:
    with pytest.raises(KeyError, match="did you mean 'memory'"):
        load_subject("memroy")


def test_percentile_interpolates() -> None:
    samples = [float(v) for v in range(1, 101)]
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile([3.0], 99) == 3.0


async def test_a_subject_at_a_commit_runs_that_commits_code_in_the_same_run() -> None:
    from benchmarks import versions

    scenario = Scenario(jobs=30, latency_jobs=5, batch=4, repeat=1, warmup=False)

    results = await run_benchmark(["memory", "memory@HEAD"], scenario)

    assert [r.title for r in results] == [FACADE, f"{FACADE} @ HEAD"]
    assert all((results[1].repeats[0][m.key] or 0) > 0 for m in METRICS), results[1].repeats
    tree = versions.tree_of("HEAD")  # made by the run above
    assert tree.parent == versions.VERSIONS
    assert (tree / "lexigram_compat" / "app.py").is_file()
    with pytest.raises(KeyError, match="not a commit"):
        versions.tree_of("no-such-ref-anywhere")
