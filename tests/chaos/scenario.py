"""The fault-injection scenario of issue 14, one engine x broker pair at a time.

For a pair: start its private servers (``servers.py``), an app on them, and the
engine's native worker in a subprocess session of its own; a producer enqueues
``jobs`` jobs at ``rate`` per second while the chaos schedule SIGKILLs the worker
mid-job ``kills`` times (restarting it at once, as a process manager would),
SIGTERMs it once, crashes and restarts each private server ``broker_crashes``
times and writes the pair's bad input straight onto its queue structure. Then
it waits (bounded) until every ``Ok`` job finished and every record settled, and
fills a :class:`~tests.chaos.report.Report` from the ledger outside the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lexigram_compat import JobStatus, TasksApp
from tests.conformance.apps import build_app, worker_environ

from .jobs import LEDGER_ENV, read_ledger, registry, work
from .pairs import PAIRS, READY, Pair, Servers
from .report import Report, classify
from .servers import PrivatePostgres, PrivateRabbit, PrivateRedis, Server

__all__ = ["Options", "run_pair"]

REPO_ROOT = Path(__file__).resolve().parents[2]
FINAL = {JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.CANCELLED.value}
READY_TIMEOUT = 60.0
ENQUEUE_TIMEOUT = 30.0
MID_JOB_WAIT = 15.0
RECOVERY_GAP = 3.0
"""Seconds between a server's return and the next crash."""
QUIET_LOGGERS = ("pika", "kombu", "amqp", "redis")
"""Client libraries that log every refused reconnect with a traceback during an outage."""


@dataclass
class Options:
    jobs: int = 500
    rate: float = 50.0
    kills: int = 2
    sigterms: int = 1
    broker_crashes: int = 1
    outage: float = 3.0
    """Seconds each crashed server stays down."""
    job_seconds: float = 0.1
    settle_timeout: float = 60.0
    """Seconds, after the producer and the chaos are done, for every job to finish."""
    bad_input: bool = True
    workdir: Path | None = None
    log: Callable[[str], None] = print


class Worker:
    """The engine's native worker CLI, in a session of its own; restarted after every stop."""

    def __init__(self, argv: list[str], env: dict[str, str], logdir: Path, ready: re.Pattern[str]) -> None:
        self.argv, self.env, self.logdir, self.ready = argv, env, logdir, ready
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.lock = asyncio.Lock()

    @property
    def log_path(self) -> Path:
        return self.logdir / f"worker-{self.starts}.log"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _spawn(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        with self.log_path.open("wb") as out:
            out.write(f"$ {' '.join(self.argv)}\n".encode())
            out.flush()
            return subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self.env, cwd=REPO_ROOT, start_new_session=True,
            )  # fmt: skip

    async def start(self) -> None:
        self.process = self._spawn()
        deadline = time.monotonic() + READY_TIMEOUT
        while not self.ready.search(self.log_text()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the worker did not become ready; its log:\n{self.log_text()[-3000:]}")
            await asyncio.sleep(0.1)

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def session_pids(self) -> set[int]:
        if self.process is None:
            return set()
        pids = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if os.getsid(int(entry.name)) == self.process.pid:
                        pids.add(int(entry.name))
        return pids

    async def kill(self) -> None:
        """SIGKILL every process of the worker's session."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await asyncio.to_thread(self.process.wait)
        self.process = None

    async def terminate(self, timeout: float) -> int:
        """SIGTERM to the main process, as a process manager stops it; its exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(asyncio.to_thread(self.process.wait), timeout)
        except TimeoutError:
            code = -999
        await self.kill()  # whatever is left of the session
        return code


def _open_attempts(ledger: Path, pids: set[int]) -> int:
    """Jobs the given processes started and have not finished (mid-job)."""
    open_: set[tuple[str, int]] = set()
    for pid in pids:
        path = ledger / f"ledger-{pid}.log"
        if not path.exists():
            continue
        for raw in path.read_bytes().split(b"\n"):
            parts = raw.split(b" ")
            if len(parts) == 5:
                key = (parts[1].decode(), int(parts[2]))
                if parts[0] == b"S":
                    open_.add(key)
                else:
                    open_.discard(key)
    return len(open_)


class Run:
    """One pair's run: servers, app, worker, producer and chaos."""

    def __init__(self, pair: Pair, options: Options, root: Path) -> None:
        self.pair, self.options, self.root = pair, options, root
        self.ledger = root / "ledger"
        self.ledger.mkdir()
        self.report = Report(pair.key)
        self.servers = Servers()
        self.ok: dict[str, int] = {}
        self.err: dict[str, str] = {}
        self.servers_up = asyncio.Event()
        self.servers_up.set()
        self.down = 0

    def log(self, text: str) -> None:
        self.options.log(f"[{self.pair.key} {time.strftime('%H:%M:%S')}] {text}")

    # -- chaos actions -----------------------------------------------------------------
    async def kill_mid_job(self, worker: Worker) -> None:
        async with worker.lock:
            deadline = time.monotonic() + MID_JOB_WAIT
            while time.monotonic() < deadline:
                if await asyncio.to_thread(_open_attempts, self.ledger, worker.session_pids()):
                    break
                await asyncio.sleep(0.02)
            else:
                self.report.notes.append(
                    f"a SIGKILL found no job in progress within {MID_JOB_WAIT:.0f} s (killed anyway)"
                )
            await worker.kill()
            self.report.kills += 1
            self.log(f"SIGKILLed the worker ({self.report.kills})")
            await worker.start()

    async def sigterm(self, worker: Worker) -> None:
        async with worker.lock:
            code = await worker.terminate(self.options_shutdown + 15)
            self.report.sigterms += 1
            self.report.sigterm_codes.append(code)
            if code != 0:
                self.report.notes.append(f"the worker's exit code after SIGTERM was {code}")
            self.log(f"SIGTERMed the worker (exit code {code})")
            await worker.start()

    @property
    def options_shutdown(self) -> float:
        return 10.0

    async def crash(self, server: Server) -> None:
        self.down += 1
        self.servers_up.clear()
        try:
            await asyncio.to_thread(server.crash)
            self.report.crashes[server.name] += 1
            self.log(f"crashed {server.name}; down for {self.options.outage}s")
            await asyncio.sleep(self.options.outage)
            await asyncio.to_thread(server.restart)
            self.log(f"{server.name} is back")
        finally:
            self.down -= 1
            if not self.down:
                self.servers_up.set()

    async def bad_input(self, app: TasksApp) -> None:
        """Every bad input of the pair, while its servers are up (a crash is not what is tested here)."""
        for bad in self.pair.bad_inputs:
            await self.servers_up.wait()
            try:
                await bad.send(app, self.servers)
                self.report.bad_sent.append(bad.label)
            except Exception as exc:  # a send during an outage: noted, not counted as sent
                self.report.notes.append(f"bad input {bad.label!r} not sent: {type(exc).__name__}: {exc}")
        self.report.bad_sent_at = time.time()
        self.log(f"wrote {len(self.report.bad_sent)} bad input(s) onto the queue")

    # -- the producer -----------------------------------------------------------------------
    async def produce(self, app: TasksApp, tag: str) -> None:
        started = time.monotonic()
        for seq in range(self.options.jobs):
            delay = started + seq / self.options.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            job_id = f"chaos-{tag}-{seq}"
            call = work(seq, self.options.job_seconds).options(job_id=job_id)
            try:
                result = await asyncio.wait_for(app.queue.enqueue(call), ENQUEUE_TIMEOUT)
            except TimeoutError:
                self.err[job_id] = "harness: enqueue took over 30 s"
                continue
            if result.is_ok():
                self.ok[result.unwrap()] = seq
            else:
                self.err[job_id] = type(result.unwrap_err()).__name__
        self.log(f"producer done: {len(self.ok)} Ok, {len(self.err)} Err")

    async def chaos(self, worker: Worker, app: TasksApp) -> None:
        """The schedule, in fractions of the producer's span: server crashes one after
        another from 5 %, each once the previous server is back; bad input at 45 %
        (once the servers are up); SIGKILLs spread over 30-90 %, SIGTERMs at 65 %."""
        span = self.options.jobs / self.options.rate
        started = time.monotonic()

        async def at(fraction: float) -> None:
            await asyncio.sleep(max(0.0, started + fraction * span - time.monotonic()))

        async def crashes() -> None:
            servers = self.servers.all()
            total = self.options.broker_crashes * len(servers)
            for i in range(total):
                await at(0.05 + 0.6 * i / total)
                await self.crash(servers[i % len(servers)])
                await asyncio.sleep(RECOVERY_GAP)  # the next crash hits a recovered system

        async def kills() -> None:
            count = self.options.kills
            for i in range(count):
                await at(0.3 + 0.6 * i / max(count - 1, 1))
                await self.kill_mid_job(worker)

        async def sigterms() -> None:
            for _ in range(self.options.sigterms):
                await at(0.65)
                await self.sigterm(worker)

        async def bad() -> None:
            if self.options.bad_input and self.pair.bad_inputs:
                await at(0.45)
                await self.bad_input(app)

        await asyncio.gather(crashes(), kills(), sigterms(), bad())

    async def watch(self, worker: Worker) -> None:
        """Restart a worker that exited on its own (and note it): the run goes on."""
        while True:
            await asyncio.sleep(0.5)
            async with worker.lock:
                code = worker.exited()
                if code is not None:
                    last = worker.log_text().strip().splitlines()[-1:] or [""]
                    self.report.worker_exits.append(f"exit {code}: {last[0][:200]}")
                    self.log(f"the worker exited on its own (code {code}); restarting it")
                    await worker.start()

    # -- settling and checking -------------------------------------------------------------
    async def settle(self, app: TasksApp) -> None:
        deadline = time.monotonic() + self.options.settle_timeout
        final: dict[str, str] = {}
        while True:
            waiting = [job for job in self.ok if job not in final]
            statuses = await _statuses(app, waiting)
            for job, status in statuses.items():
                if status in FINAL:
                    final[job] = status
            left = [job for job in self.ok if job not in final]
            if not left:
                self.report.settled = True
                return
            if time.monotonic() > deadline:
                self.log(f"{len(left)} job(s) not settled after {self.options.settle_timeout}s")
                return
            await asyncio.sleep(1.0)

    async def check(self, app: TasksApp) -> None:
        letters = await _dead_letters(app)
        statuses = await _statuses(app, list(self.ok) + list(self.err))
        self.report.jobs = self.options.jobs
        classify(
            self.report,
            ok=self.ok,
            err=self.err,
            ledger=read_ledger(self.ledger),
            letters=letters,
            statuses=statuses,
        )

    # -- the whole run ----------------------------------------------------------------------
    async def run(self) -> Report:
        began = time.monotonic()
        tag = uuid.uuid4().hex[:8]
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        kinds = {"postgres": PrivatePostgres, "rabbit": PrivateRabbit, "redis": PrivateRedis}
        with contextlib.ExitStack() as stack:
            for kind in self.pair.kinds:
                server = await asyncio.to_thread(lambda k=kind: stack.enter_context(kinds[k]()))  # type: ignore[misc]
                setattr(self.servers, kind, server)
            await self.pair.prepare(self.servers)
            section = self.pair.section(self.servers, tag)
            recorder = self.root / "recorder.jsonl"
            app = build_app(section, recorder, tasks=registry)
            await app.start()
            env = {
                **os.environ, **worker_environ(section, recorder), **self.pair.worker_env,
                LEDGER_ENV: str(self.ledger), "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            }  # fmt: skip
            worker = Worker(self.pair.worker_argv(app), env, self.root, READY[self.pair.key])
            try:
                await worker.start()
                watcher = asyncio.create_task(self.watch(worker))
                try:
                    await asyncio.gather(self.produce(app, tag), self.chaos(worker, app))
                    await self.settle(app)
                finally:
                    watcher.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await watcher
                await self.check(app)
            finally:
                if worker.process is not None:
                    with contextlib.suppress(Exception):
                        await worker.terminate(15.0)
                with contextlib.suppress(Exception):
                    await app.close()
        self.report.seconds = time.monotonic() - began
        return self.report


async def _statuses(app: TasksApp, job_ids: list[str]) -> dict[str, str]:
    """Each job's record status (``"none"`` without a record), 50 reads at a time."""
    found: dict[str, str] = {}
    for start in range(0, len(job_ids), 50):
        chunk = job_ids[start : start + 50]
        infos = await asyncio.gather(*(app.queue.get_job(job) for job in chunk), return_exceptions=True)
        for job, info in zip(chunk, infos, strict=True):
            if isinstance(info, BaseException):
                found[job] = f"unreadable: {type(info).__name__}"
            elif info is None:
                found[job] = "none"
            else:
                found[job] = info.status.value
    return found


async def _dead_letters(app: TasksApp) -> dict[str, str]:
    """Every dead letter: job id -> ``error type: message``."""
    letters: dict[str, str] = {}
    offset = 0
    while True:
        page = await app.dead_letters.list(limit=200, offset=offset)
        for letter in page:
            letters[letter.job_id] = f"{letter.error_type}: {letter.error_message[:160]}"
        if len(page) < 200:
            return letters
        offset += len(page)


async def run_pair(key: str, options: Options) -> Report:
    """Run the scenario on one pair (a key of :data:`~tests.chaos.pairs.PAIRS`)."""
    if key not in PAIRS:
        raise ValueError(f"unknown pair {key!r}; known: {', '.join(PAIRS)}")
    root = Path(tempfile.mkdtemp(prefix=f"lexchaos-{key}-", dir=options.workdir))
    return await Run(PAIRS[key], options, root).run()
