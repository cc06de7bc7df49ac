"""Runs many ``lexigram-compat`` commands in one process, for the redaction property test.

Starting a Python process per command costs a second; the property test runs
hundreds of commands. This program reads a JSON plan (a list of ``{"env":
{...}, "argv": [...]}``), and for each entry sets the environment, forgets the
app module, and calls the real entry point (:func:`lexigram_compat.cli.main`)
with the process's own stdout and stderr: every byte a user would see is
written where the test reads it. Exit codes (and seconds taken) go to a
separate JSON file, in plan order. ``os.execvp`` (a native worker taking over) is replaced by an exit
with code 99, which the test treats as a failure: every planned ``worker``
must stop at its start-up check, or run in this process with ``--until-idle``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

from lexigram_compat.cli import main
from lexigram_compat.redaction import forget_secrets

EXEC_REFUSED = 99
APP_MODULE = "tests.cli.secret_app"


def _no_exec(file: str, args: Any) -> NoReturn:
    raise SystemExit(EXEC_REFUSED)


def run(plan: list[dict[str, Any]]) -> list[dict[str, Any]]:
    codes: list[dict[str, Any]] = []
    for entry in plan:
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
        codes.append({"code": code, "seconds": round(time.monotonic() - started, 3)})
        sys.stdout.flush()
        sys.stderr.flush()
    return codes


if __name__ == "__main__":
    os.execvp = _no_exec  # type: ignore[assignment]
    plan_path, codes_path = Path(sys.argv[1]), Path(sys.argv[2])
    codes_path.write_text(json.dumps(run(json.loads(plan_path.read_text()))))
