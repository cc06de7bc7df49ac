"""The chaos checker itself: each kind of evidence lands in its row and breaks the guarantee
it should (a checker that saw nothing would pass every pair)."""

from __future__ import annotations

from pathlib import Path

from .jobs import LedgerLine, read_ledger
from .report import Report, classify, table

DECODE = "lexigram_compat.errors.TaskValidationError: job payload could not be decoded: not JSON"


def done(job: str, attempt: int, pid: int = 1, at: float = 0.0) -> LedgerLine:
    return LedgerLine("D", job, attempt, pid, at)


def checked(**evidence: object) -> Report:
    report = Report("pair", jobs=10, settled=True)
    defaults: dict[str, object] = {"ok": [], "err": {}, "ledger": [], "letters": {}, "statuses": {}}
    classify(report, **{**defaults, **evidence})  # type: ignore[arg-type]
    return report


def test_a_clean_run_passes_and_counts_its_completions() -> None:
    report = checked(
        ok=["a", "b"],
        err={"c": "BrokerUnavailableError", "d": "EnqueueOutcomeUnknownError"},
        ledger=[done("a", 1, at=10.0), done("b", 1, at=10.5), done("b", 2, at=13.0), done("d", 1, at=13.1)],
        statuses={"a": "completed", "b": "completed", "c": "none", "d": "completed"},
    )

    assert (report.ok, report.completed, report.dup_higher, report.longest_pause) == (2, 2, 1, 2.5)
    assert report.failures() == []
    assert "PASS" in table([report])
    report.settled = False
    assert report.failures() == ["the run did not settle within its bound"]


def test_each_broken_guarantee_is_reported_with_its_job() -> None:
    report = checked(
        ok=["lost", "twice", "stuck", "dead"],
        err={"written": "BrokerUnavailableError", "odd": "SerializationError"},
        ledger=[
            done("twice", 1),
            done("twice", 1, pid=2),
            done("stuck", 1),
            done("written", 1),
            done("ghost", 1),
        ],
        letters={"dead": "WorkerLostError: lost", "raw-1": DECODE, "raw-2": "TaskValidationError: ???"},
        statuses={"lost": "pending", "twice": "completed", "stuck": "running", "dead": "failed"},
    )
    report.bad_sent = ["junk", "wrong shape", "third"]
    report.worker_exits = ["exit 1: JSONDecodeError"]

    text = "\n".join(report.failures())

    assert report.lost == ["lost"]
    assert report.dead_good == {"dead": "WorkerLostError: lost"}
    assert report.dup_same == ["twice attempts [1, 1]"]
    assert dict(report.stuck) == {"pending": 1, "running": 1}
    assert report.err_written == ["written (BrokerUnavailableError; record none; ran 1x)"]
    assert report.unexpected == ["ghost"]
    expected = ["lost 1", "healthy", "records left", "same-attempt", "SerializationError"]
    expected += ["although the job", "nobody enqueued", "exited on its own", "only 2 dead-lettered"]
    for part in [*expected, "without a reason"]:
        assert part in text, f"{part!r} not in:\n{text}"
    assert "FAIL" in table([report])


def test_the_ledger_reader_skips_a_line_torn_by_a_kill(tmp_path: Path) -> None:
    (tmp_path / "ledger-7.log").write_bytes(b"S j 1 7 5.25\nD j 1 7 5.5\nD k 1 7")

    assert list(read_ledger(tmp_path)) == [LedgerLine("S", "j", 1, 7, 5.25), LedgerLine("D", "j", 1, 7, 5.5)]
