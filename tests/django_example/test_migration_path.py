"""Issue 11, "Must show" 3: the migration guide's worked example, followed command by command.

The commands are read from ``migration_guide/README.md`` ("The worked example") and run in
order in a copy of ``examples/celery_django``: the original project on the real ``celery
worker``; the codemod's inventory; ``--to shims`` beside the still running old worker on
RabbitMQ (orders placed by the new and by the old code); ``--to neutral`` with the old worker
still sharing the queue; then the same code on PostgreSQL with ``lexigram-compat worker``.
After each step the shop's orders are read back: none lost, each retried exactly as the tasks
mean (a malformed or dropped message leaves an order short of ``confirmed``).
"""

from __future__ import annotations

import json
import re
import shlex
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from .shop import BIN, ROOT, Shop, copy_project

GUIDE = ROOT / "migration_guide" / "README.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.M | re.S)
READY = {"celery": " ready.", "lexigram-compat": " ready."}
"""What a worker prints once it consumes (``lexigram-compat worker`` on the Celery engine execs
``celery worker``; on PostgreSQL it logs ``worker started``, see ``_ready_mark``)."""


def guide_steps() -> list[list[tuple[str, str]]]:
    """The worked example's fenced blocks, grouped per step (a step starts at a bold
    ``**N. ...**`` paragraph): ``(language, body)`` pairs."""
    text = GUIDE.read_text()
    start = text.index("## The worked example")
    section = text[start : text.index("\n## ", start + 1)]
    steps: list[list[tuple[str, str]]] = []
    for part in re.split(r"^\*\*\d+\. ", section, flags=re.M)[1:]:
        steps.append([(m.group("lang"), m.group("body")) for m in FENCE.finditer(part)])
    return steps


def expected_attempts(count: int, flaky_every: int, backorder_every: int) -> list[tuple[int, int]]:
    """(charge attempts, reserve attempts) per order, as ``place_orders`` sets them up."""
    return [
        (2 if n % flaky_every == 0 else 1, 2 if n % backorder_every == 0 else 1) for n in range(1, count + 1)
    ]


class GuideRunner:
    """Runs the guide's commands against one shop: ``cd``, ``export``, background workers
    (a second ``lexigram-compat worker`` restarts the first), and everything else to the end."""

    def __init__(self, shop: Shop, stack: ExitStack) -> None:
        self.shop = shop
        self.stack = stack
        self.env: dict[str, str] = {}
        self.workers: dict[str, ExitStack] = {}
        self.logs: list[Path] = []
        self.placed: list[list[int]] = []

    def run_block(self, body: str) -> None:
        for line in body.splitlines():
            if line.startswith("$ "):
                self.run(shlex.split(line[2:], comments=True))

    def run(self, words: list[str]) -> None:
        program = words[0]
        if program == "cd":
            assert words[1] == "examples/celery_django"  # the shop copy stands in for it
            return
        if program == "export":
            for word in words[1:]:
                key, _, value = word.partition("=")
                self.env[key] = self.translate(key, value)
            return
        if "worker" in words:
            self.start_worker(program, words)
            return
        argv = [str(BIN / program), *words[1:]]
        output = self.shop.run(*argv, env=self.env, timeout=180)
        if words[1:3] == ["manage.py", "place_orders"]:
            self.placed.append([int(line) for line in output.split()])

    def translate(self, key: str, value: str) -> str:
        """The guide's values for this test's servers: its own database stands for ``shop``."""
        if key == "SHOP_BROKER_URL":
            assert value.startswith("postgresql://"), value
            assert value.endswith("/shop"), value
            return self.shop.db_dsn
        return value

    def start_worker(self, program: str, words: list[str]) -> None:
        argv = [str(BIN / program), *words[1:]]
        if "-Q" in argv:
            argv[argv.index("-Q") + 1] = self.shop.queue  # the guide's `shop` queue
        running = self.workers.pop(program, None)
        if running is not None:
            running.close()  # a restart: stop the previous one first
        worker = ExitStack()
        name = f"{program}-{len(self.logs)}"
        ready = self._ready_mark(program)
        self.logs.append(worker.enter_context(self.shop.worker(name, argv, ready, **self.env)))
        self.workers[program] = worker
        self.stack.callback(worker.close)

    def _ready_mark(self, program: str) -> str:
        on_postgres = self.env.get("SHOP_BROKER_URL", "").startswith("postgresql://")
        return "worker started" if program == "lexigram-compat" and on_postgres else READY[program]

    def stop(self, program: str) -> None:
        running = self.workers.pop(program, None)
        if running is not None:
            running.close()

    def check_orders(self, count: int, flaky_every: int, backorder_every: int) -> None:
        ids = self.placed[-1]
        assert len(ids) == count
        orders = self.shop.wait_until_confirmed(ids, self.logs)
        attempts = [(orders[pk].charge_attempts, orders[pk].reserve_attempts) for pk in ids]
        assert attempts == expected_attempts(count, flaky_every, backorder_every), attempts


def _malformed(logs: list[Path]) -> list[str]:
    """Log lines that show a message a worker could not read or run."""
    bad = re.compile(r"unregistered task|Received invalid|Can't decode|KeyError|dead_lettered|Traceback")
    return [line for log in logs for line in log.read_text(errors="replace").splitlines() if bad.search(line)]


def test_the_guide_walks_the_django_shop_from_celery_to_postgres(shop: Shop, tmp_path: Path) -> None:
    steps = guide_steps()
    assert len(steps) == 5, [len(step) for step in steps]
    old_deployment = replace(shop, root=copy_project(tmp_path / "old"))
    with ExitStack() as stack:
        guide = GuideRunner(shop, stack)

        # 0. The original project on the real celery worker.
        ((lang, body),) = steps[0]
        assert lang == "console"
        guide.run_block(body)
        guide.check_orders(4, 2, 3)

        # 1. Inventory: a dry run (nothing written) whose report finds every task.
        guide.run_block(steps[1][0][1])
        report = json.loads((shop.root / "migration-report.json").read_text())
        assert "from celery import" in (shop.root / "orders" / "tasks.py").read_text()
        assert report["summary"]["definitions"]["found"] == 5, report["summary"]
        assert report["summary"]["definitions"]["converted"] == 5, report["summary"]

        # 2. Shims, and the settings block, then the lexigram worker beside the old one.
        (shims, settings, side_by_side) = steps[2]
        assert (shims[0], settings[0], side_by_side[0]) == ("console", "python", "console")
        guide.run_block(shims[1])
        assert "from lexigram_compat.celery import shared_task" in (shop.root / "orders/tasks.py").read_text()
        assert settings[1].startswith("# At the end of shop/settings.py")
        with (shop.root / "shop" / "settings.py").open("a") as out:
            out.write("\n" + settings[1])
        guide.env["SHOP_REDIS_URL"] = shop.redis_url
        guide.run_block(side_by_side[1])
        guide.check_orders(6, 2, 3)
        # The old deployment still places orders too: the two workers share them.
        guide.placed.append(old_deployment.place_orders(6, flaky_every=2, backorder_every=3))
        guide.check_orders(6, 2, 3)

        # 3. Neutral, the lexigram worker restarted on it, the old worker still running.
        ((lang, body),) = steps[3]
        guide.run_block(body)
        converted = (shop.root / "orders" / "tasks.py").read_text()
        assert "@task(" in converted
        assert "shared_task" not in converted
        guide.check_orders(4, 2, 3)
        assert _malformed(guide.logs) == []

        # 4. PostgreSQL, once no old worker is left.
        guide.stop("celery")
        ((lang, body),) = steps[4]
        guide.run_block(body)
        guide.check_orders(4, 2, 3)
        assert _malformed(guide.logs) == []


def test_the_guide_steps_are_what_the_test_runs() -> None:
    """Each step's commands, so a change to the guide shows here as well as in the run."""
    commands = [
        [
            line[2:]
            for lang, body in step
            if lang == "console"
            for line in body.splitlines()
            if line.startswith("$ ")
        ]
        for step in guide_steps()
    ]
    assert [len(step) for step in commands] == [4, 1, 3, 3, 4]
    assert commands[0][2].startswith("celery -A shop worker")
    assert all("lexigram-compat worker shop.celery:app.tasks_app" in step for step in commands[2:])
