"""``worker`` and ``scheduler``: the long-running commands."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import signal
from collections.abc import Callable, Iterator
from typing import NoReturn

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.backends import Backend
from lexigram_compat.cli.exits import EXIT_INTERRUPTED, CliError
from lexigram_compat.cli.loading import AppSpec, load_app, module_builds_app, parse_app_spec
from lexigram_compat.cli.logs import release_logs
from lexigram_compat.cli.reachability import check_reachable
from lexigram_compat.cli.state import CliState, json_option, require, run_with_app
from lexigram_compat.cli.supervisor import child_command, supervise
from lexigram_compat.cli.worker_observability import prepare_worker_observability, serve_worker_metrics
from lexigram_compat.engine_contract import APP_SPEC_ENV, NATIVE_ENTRY
from lexigram_compat.tasks import validate_queue_name

__all__ = ["native_worker_argv", "scheduler", "worker"]

log = logging.getLogger("lexigram_compat.cli")


def native_worker_argv(
    spec: AppSpec,
    backend: Backend,
    queues: list[str] | None,
    processes: int | None,
    concurrency: int | None,
    *,
    log_level: str | None = None,
) -> list[str] | None:
    """The engine's own worker command for ``backend`` (``dramatiq ...``,
    ``celery ... worker``), or None for engines whose jobs this command runs
    in-process (memory, postgres)."""
    if backend.engine.job_source() is not None:
        return None
    # The program execed below finds the app by module; when the module alone does not
    # build it, it imports native_entry, which loads APP from the environment.
    os.environ[APP_SPEC_ENV] = spec.text
    target = spec.text if module_builds_app(spec) else f"{NATIVE_ENTRY}:app"
    argv = backend.engine.native_worker_argv(
        target, queues=queues, processes=processes, concurrency=concurrency, log_level=log_level
    )
    if not argv:
        raise CliError(
            f"the {backend.key} engine ({backend.name} backend) has no worker this command can start",
            hint=f"run its jobs with: {backend.engine.capabilities.worker}",
        )
    return argv


def _exec_native(selected: list[Backend], argvs: dict[str, list[str]]) -> NoReturn:
    """Replace this process with the one native worker that runs every selected queue."""
    in_process = [b for b in selected if b.name not in argvs]
    distinct = {tuple(argv) for argv in argvs.values()}
    if in_process or len(distinct) > 1:
        commands = "; ".join(f"{shlex.join(argv)} (backend {name})" for name, argv in argvs.items())
        raise CliError(
            "these queues need more than one worker program; start one per backend: " + commands,
            hint="use --queues to choose the queues of one backend per command",
        )
    argv = next(iter(argvs.values()))
    log.info("starting the engine's own worker: %s", shlex.join(argv))
    logging.shutdown()
    try:
        os.execvp(argv[0], argv)
    except OSError as exc:
        raise CliError(
            f"could not start {argv[0]!r}: {exc.strerror}",
            hint="install the engine's extra (pip install 'lexigram-compat[dramatiq]' or '[celery]')",
        ) from None


def parse_queues(text: str | None) -> list[str] | None:
    """``"a, b"`` → ``["a", "b"]``; None when not given."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise CliError(f"--queues {text!r} names no queue", hint="pass names like --queues emails,reports")
    try:
        return [validate_queue_name(name, "--queues") for name in names]
    except ValueError as exc:
        raise CliError(str(exc)) from None


def _describe_queues(app: TasksApp, names: list[str] | None) -> str:
    selected = app.backend_set.select(names or app.config.worker.queues)
    return "; ".join(f"{b.name} ({b.key}): {', '.join(qs)}" for b, qs in selected.items())


@contextlib.contextmanager
def _handling_signals(
    loop: asyncio.AbstractEventLoop, handler: Callable[[signal.Signals], None]
) -> Iterator[None]:
    """``handler(sig)`` for SIGTERM and SIGINT while the block runs."""
    installed = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, handler, sig)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


@contextlib.contextmanager
def _on_signals(loop: asyncio.AbstractEventLoop, stop: asyncio.Event, what: str) -> Iterator[None]:
    def handler(sig: signal.Signals) -> None:
        log.info("received %s: stopping the %s", sig.name, what)
        stop.set()

    with _handling_signals(loop, handler):
        yield


class _SignalsWhileStarting:
    """SIGTERM/SIGINT before the worker loop runs: the first is a stop once
    connected (nothing runs), a second stops the process at once."""

    def __init__(self) -> None:
        self.first: signal.Signals | None = None

    def on_signal(self, sig: signal.Signals) -> None:
        if self.first is not None:
            release_logs()  # SystemExit passes the command's own release by
            log.warning("received %s again while starting: stopping now", sig.name)
            raise SystemExit(EXIT_INTERRUPTED if sig is signal.SIGINT else 128 + sig)
        self.first = sig
        log.info("received %s while starting: stopping once connected (send it again to stop now)", sig.name)


async def _check_reachable(app: TasksApp, *, selected: dict[Backend, list[str]]) -> None:
    for backend, physical in selected.items():
        queue = physical[0] if physical else backend.queues()[0]
        what = f"worker start-up ({backend.name} backend)"
        await require(what, functools.partial(backend.engine.count, queue, None))


def _child_arguments(state: CliState, spec: str, options: dict[str, object], index: int) -> list[str]:
    args = ["--log-level", state.log_level, *(["--debug"] if state.debug else []), "worker", spec]
    args += ["--processes", "1"]
    if options["queues"] is not None:
        args += ["--queues", str(options["queues"])]
    if options["concurrency"] is not None:
        args += ["--concurrency", str(options["concurrency"])]
    if options["until_idle"]:
        args.append("--until-idle")
    if options["no_scheduler"] or index > 0:  # one scheduler is enough (fire times are unique anyway)
        args.append("--no-scheduler")
    return args


@click.command()
@click.argument("app_spec", metavar="APP")
@click.option("--queues", help="Comma-separated queue names to consume (default: all of the app's).")
@click.option("--concurrency", type=click.IntRange(min=1), help="Jobs at once per process.")
@click.option(
    "--processes", type=click.IntRange(min=1), help="Worker processes (default worker.worker_count)."
)
@click.option("--until-idle", is_flag=True, help="Exit when no job is ready, running or retrying.")
@click.option("--no-scheduler", is_flag=True, help="Do not fire @scheduled tasks in this worker.")
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    metavar="PORT",
    help="Serve Prometheus /metrics here, summed over all the worker's processes "
    "(or $LEXIGRAM_METRICS_PORT, or tasks.observability.metrics_port).",
)
@json_option
@click.pass_context
def worker(
    ctx: click.Context,
    *,
    app_spec: str,
    queues: str | None,
    concurrency: int | None,
    processes: int | None,
    until_idle: bool,
    no_scheduler: bool,
    metrics_port: int | None,
    json_flag: bool,
) -> None:
    """Run APP's jobs until SIGTERM/SIGINT.

    On SIGTERM/SIGINT running jobs get worker.shutdown_timeout seconds to
    finish; unfinished ones go back to the queue. With --processes N > 1 the
    command starts N worker processes and forwards those signals to them.
    """
    state = ctx.ensure_object(CliState)
    out = state.output(json_flag)
    spec = parse_app_spec(app_spec)
    app = load_app(app_spec)
    names = parse_queues(queues)
    count = processes or app.config.worker.worker_count
    port = prepare_worker_observability(state, app, metrics_port, count)
    chosen_names = names or app.config.worker.queues
    selected = app.backend_set.select(chosen_names)
    argvs = {
        b.name: argv
        for b, physical in selected.items()
        if (
            argv := native_worker_argv(
                spec, b, physical if chosen_names else None, processes, concurrency, log_level=state.log_level
            )
        )
        is not None
    }
    # Fail fast (exit 3) when a broker is down at start-up rather than retry
    # in silence: the process manager restarts the worker and the cause is said.
    if argvs:
        run_with_app(app, functools.partial(_check_reachable, selected=selected))
        release_logs()
        _exec_native(list(selected), argvs)
    single = [b for b in selected if not b.engine.capabilities.multi_process]
    if count > 1 and single:
        raise CliError(
            f"--processes {count}: the {single[0].key} engine ({single[0].name} backend) runs in one "
            "process only",
            hint="use --processes 1 with a higher --concurrency, or a multi-process engine such as postgres",
        )
    if count > 1:
        options: dict[str, object] = {
            "queues": queues,
            "concurrency": concurrency,
            "until_idle": until_idle,
            "no_scheduler": no_scheduler,
        }
        commands_ = [child_command(_child_arguments(state, app_spec, options, i)) for i in range(count)]
        release_logs()  # each child holds its own until it has started
        code = asyncio.run(supervise(commands_))
        if out.json_mode:
            out.json({"processes": count, "exit_code": code})
        ctx.exit(code)

    before_start = _SignalsWhileStarting()

    async def run(app: TasksApp) -> int:
        # SIGTERM/SIGINT are handled from the first step, not only once the worker
        # runs: one sent while the app connects (a process manager stopping a
        # worker it just started) is a clean stop, not death by the signal.
        # ``run_worker`` replaces these handlers with its own and nothing awaits
        # between the check below and that, so no signal falls between the two.
        with _handling_signals(asyncio.get_running_loop(), before_start.on_signal):
            await check_reachable(selected, "worker start-up")
            async with app:
                await _check_reachable(app, selected=selected)
                release_logs()
                serve_worker_metrics(app, port, concurrency or app.config.worker.max_concurrent_tasks)
                log.info(
                    "worker started (concurrency %s): %s",
                    concurrency or app.config.worker.max_concurrent_tasks,
                    _describe_queues(app, names),
                )
                processed = 0
                if before_start.first is None:
                    processed = await app.run_worker(
                        until_idle=until_idle,
                        queues=names,
                        concurrency=concurrency,
                        scheduler=False if no_scheduler else None,
                        handle_signals=True,
                    )
                log.info("worker stopped after %d job attempt(s)", processed)
                return processed

    processed = asyncio.run(run(app))
    if out.json_mode:
        out.json({"processed": processed})
    if signal.SIGINT in (before_start.first, app.worker_stop_signal):
        # Ctrl-C, even after a graceful shutdown, exits 130 as documented (a shell
        # and a process manager tell it from a clean stop); SIGTERM exits 0.
        ctx.exit(EXIT_INTERRUPTED)


@click.command()
@click.argument("app_spec", metavar="APP")
@click.pass_obj
def scheduler(state: CliState, app_spec: str) -> None:
    """Fire APP's schedules until SIGTERM/SIGINT.

    Only enqueues the @scheduled tasks' fire times; workers run them (start
    them with --no-scheduler when this command owns the schedules).
    """
    app = load_app(app_spec)
    if not app.config.scheduler.enabled:
        raise CliError(
            "tasks.scheduler.enabled is false, so no schedule may fire",
            hint="set tasks.scheduler.enabled: true (and start workers with --no-scheduler)",
        )
    local = [b.key for b in app.backend_set if not b.engine.capabilities.multi_process]
    if local:
        state.output().warn(
            f"the {local[0]} engine keeps jobs in this process only: no other process will run "
            "what this scheduler enqueues (a worker runs the scheduler itself by default)"
        )

    async def run(app: TasksApp) -> None:
        async with app:
            release_logs()
            stop = asyncio.Event()
            with _on_signals(asyncio.get_running_loop(), stop, "scheduler"):
                sched = app.make_scheduler()
                if not sched.schedules:
                    log.warning("%s has no @scheduled tasks: nothing will fire", app_spec)
                for name, when in sorted(sched.next_fire_times().items()):
                    log.info("schedule %s: next fire time %s", name, when.isoformat())
                await sched.run(stop)
            log.info("scheduler stopped")

    asyncio.run(run(app))
