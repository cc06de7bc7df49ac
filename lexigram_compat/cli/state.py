"""Shared plumbing: global options, the ``--json`` flag, and running a coroutine
against a started app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click

from lexigram_compat.app import TasksApp
from lexigram_compat.cli.loading import load_app
from lexigram_compat.cli.output import Output
from lexigram_compat.cli.reachability import check_reachable
from lexigram_compat.errors import TaskQueueError
from lexigram_compat.queue_handle import engine_errors
from lexigram_compat.result import Result

__all__ = ["CliState", "json_option", "require", "run_with_app", "unwrap"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class CliState:
    """The global options, available to every command as ``ctx.obj``."""

    debug: bool = False
    json: bool = False
    log_level: str = "info"
    log_format: str | None = None
    """``--log-format`` (None: not given, so ``tasks.logging.format`` decides)."""

    def output(self, json_flag: bool = False) -> Output:
        return Output(self.json or json_flag)


def json_option(fn: F) -> F:
    """``--json`` on a command (also accepted before the command name)."""
    return click.option("--json", "json_flag", is_flag=True, help="Print JSON instead of tables (stdout).")(
        fn
    )


def run_with_app(app: TasksApp | str, body: Callable[[TasksApp], Awaitable[T]]) -> T:
    """Start ``app`` (or load it from a ``module:attribute`` string), run ``body(app)``, close it.

    Every backend's server must answer first (:mod:`lexigram_compat.cli.reachability`),
    and accept the engine's login (``Engine.check_access``).
    """
    target = load_app(app) if isinstance(app, str) else app

    async def main() -> T:
        command = _command_name()
        await check_reachable(target.backend_set, command)
        async with target:
            for backend in target.backend_set:
                await require(f"{command} ({backend.name} backend)", backend.engine.check_access)
            return await body(target)

    return asyncio.run(main())


def _command_name() -> str:
    ctx = click.get_current_context(silent=True)
    return ctx.command_path if ctx is not None else "the command"


def unwrap(result: Result[T, TaskQueueError]) -> T:
    """The value of ``Ok``; raise the ``Err``'s error (its type sets the exit code)."""
    if result.is_err():
        raise result.unwrap_err()
    return result.unwrap()


async def require(operation: str, make: Callable[[], Awaitable[T]]) -> T:
    """Run an engine call; an unreachable broker becomes ``BrokerUnavailableError``."""
    return unwrap(await engine_errors(operation, make))
