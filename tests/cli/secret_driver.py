"""Runs many ``lexigram-compat`` commands in one process, for the redaction and exit-code tests.

Starting a Python process per command costs a second; these tests run
hundreds of commands. This program reads a JSON plan (a list of ``{"env":
{...}, "argv": [...]}``), and for each entry sets the environment, forgets the
app module, and calls the real entry point (:func:`lexigram_compat.cli.main`)
with the process's own stdout and stderr: every byte a user would see is
written where the test reads it. Exit codes (and seconds taken) go to a
separate JSON file, in plan order; with a third argument (a directory) each
command's stdout and stderr bytes go to files of their own there.

``os.execvp`` (a native worker taking over) is replaced by an exit with code
99: a planned ``worker`` must stop at its start-up check, or run in this
process with ``--until-idle``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

from lexigram_compat.cli import main
from lexigram_compat.redaction import forget_secrets

EXEC_REFUSED = 99
APP_MODULE = "tests.cli.secret_app"


def _no_exec(file: str, args: Any) -> NoReturn:
    raise SystemExit(EXEC_REFUSED)


@contextlib.contextmanager
def _captured(split: Path | None, index: int) -> Iterator[None]:
    """With ``split``, this command's stdout/stderr bytes go to ``<index>.out``/``.err`` there."""
    if split is None:
        yield
        return
    saved = os.dup(1), os.dup(2)
    with (split / f"{index}.out").open("wb") as out, (split / f"{index}.err").open("wb") as err:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run(plan: list[dict[str, Any]], split: Path | None = None) -> list[dict[str, Any]]:
    codes: list[dict[str, Any]] = []
    for index, entry in enumerate(plan):
        with _captured(split, index):
            codes.append(_run_one(entry))
    return codes


def _run_one(entry: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    os.environ.update(entry["env"])
    sys.modules.pop(APP_MODULE, None)
    forget_secrets()  # each command must hide the password on its own
    try:
        main(entry["argv"])
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    else:
        code = 0
    sys.stdout.flush()
    sys.stderr.flush()
    return {"code": code, "seconds": round(time.monotonic() - started, 3)}


if __name__ == "__main__":
    os.execvp = _no_exec  # type: ignore[assignment]
    plan_path, codes_path = Path(sys.argv[1]), Path(sys.argv[2])
    split = Path(sys.argv[3]) if len(sys.argv) > 3 else None
    codes_path.write_text(json.dumps(run(json.loads(plan_path.read_text()), split)))
