"""Probes of a single RabbitMQ enqueue, shared by the Dramatiq and Celery engines' tests:
how many thread hops it made and which ledger calls it ran on the event loop."""

from __future__ import annotations

from typing import Any

import pytest

__all__ = ["PublishProbe"]


class PublishProbe:
    """Counts submits to ``executor`` (thread hops) and the calls ``ledger.run_many`` ran
    (the ledger's round trips on the event loop), from installation on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, executor: Any, ledger: Any) -> None:
        self.hops: list[object] = []
        self.loop_calls: list[object] = []
        submit, run_many = executor.submit, ledger.run_many

        def counted_submit(*args: Any, **kwargs: Any) -> Any:
            self.hops.append(args[0])
            return submit(*args, **kwargs)

        def counted_run_many(calls: Any) -> Any:
            self.loop_calls.extend(calls)
            return run_many(calls)

        monkeypatch.setattr(executor, "submit", counted_submit)
        monkeypatch.setattr(ledger, "run_many", counted_run_many)

    def assert_one_hop_and_no_loop_record(self) -> None:
        assert len(self.hops) == 1, "one thread hop: the record is written where the message is published"
        assert self.loop_calls == [], "no create round trip on the event loop"
