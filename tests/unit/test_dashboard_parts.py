"""The dashboard's pure parts: argument previews, throughput buckets, loopback check."""

from __future__ import annotations

from datetime import UTC, datetime

from lexigram_compat.dashboard.security import DashboardSecurity, is_loopback
from lexigram_compat.dashboard.throughput import Throughput
from lexigram_compat.dashboard.views import ARGS_PREVIEW_CHARS, preview
from lexigram_compat.presence import WorkerPresence


def test_preview_truncates_and_redacts_url_passwords() -> None:
    text = preview({"args": ["x" * 500], "kwargs": {"dsn": "postgresql://app:hunter2@db/prod"}})
    assert len(text) == ARGS_PREVIEW_CHARS
    assert text.endswith("…")
    short = preview({"dsn": "postgresql://app:hunter2@db/prod"})
    assert "hunter2" not in short
    assert "db/prod" in short


def worker(processed: int, worker_id: str = "w1") -> WorkerPresence:
    now = datetime.now(UTC)
    finished = {"tasks": processed - 1, "emails": 1}
    return WorkerPresence(
        worker_id, "h", 1, "memory", "default", ["tasks"], 0, 4, now, now, processed, finished
    )


def test_throughput_counts_what_finished_between_samples_per_minute() -> None:
    meter = Throughput()
    meter.sample([worker(100)], now=1000.0)  # first sight: its past is not in the window
    meter.sample([worker(104)], now=1010.0)
    meter.sample([worker(110), worker(7, "w2")], now=1070.0)
    assert meter.per_minute("default", now=1075.0)[-2:] == [4, 6]
    assert meter.per_minute("default", "tasks", now=1075.0)[-2:] == [4, 6]
    assert sum(meter.per_minute("default", "emails", now=1075.0)) == 0  # it never grew
    # A queue first reported by a worker already seen counts from zero.
    late = worker(111)
    late.finished["reports"] = 2
    meter.sample([late], now=1080.0)
    assert meter.per_minute("default", "reports", now=1080.0)[-1] == 2
    assert sum(meter.per_minute("default", now=1075.0 + 3600)) == 0
    assert meter.per_minute("other", now=1075.0) == [0] * 10


def test_loopback_addresses_and_token_check() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.4")
    security = DashboardSecurity("s3cr3t-value")
    assert security.token_ok("s3cr3t-value")
    assert not security.token_ok("s3cr3t-valu")
    assert not security.token_ok(None)
    assert "s3cr3t" not in repr(security)
    assert security.csrf_ok(security.csrf_token())
    assert not security.csrf_ok(DashboardSecurity("s3cr3t-value").csrf_token())  # another process's secret
