"""``worker``'s log format and ``/metrics``, set up before any job runs.

The chosen log format and metrics port travel to the engine's own worker
(``dramatiq``, ``celery worker``) and to ``--processes`` children in the
environment (``$LEXIGRAM_LOG_FORMAT``, ``$LEXIGRAM_METRICS_PORT``). A worker
of several processes gets a fresh ``PROMETHEUS_MULTIPROC_DIR``, removed when
the parent exits; the first child to bind the port serves every child's values.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from lexigram_compat import metrics
from lexigram_compat.app import TasksApp
from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.logs import configure_logging
from lexigram_compat.cli.state import CliState
from lexigram_compat.json_logs import LOG_FORMAT_ENV

__all__ = ["prepare_worker_observability", "serve_worker_metrics"]


def prepare_worker_observability(
    state: CliState, app: TasksApp, port_option: int | None, processes: int
) -> int | None:
    """Apply the log format; return the metrics port (None: no metrics served)."""
    log_format = state.log_format or app.config.logging.format
    if log_format == "json":
        configure_logging(state.log_level, "json", debug=state.debug)
        os.environ[LOG_FORMAT_ENV] = "json"
    port = metrics.metrics_port(app, port_option)
    if port is None:
        return None
    if not metrics.available():
        raise CliError(
            f"--metrics-port {port}: serving metrics needs prometheus-client, which is not installed",
            hint="pip install 'lexigram-compat[metrics]'",
        )
    if not app.config.observability.metrics:
        raise CliError(
            f"--metrics-port {port}: tasks.observability.metrics is false, so nothing would be counted",
            hint="set tasks.observability.metrics: true, or drop the metrics port",
        )
    os.environ[metrics.METRICS_PORT_ENV] = str(port)
    if processes > 1 and not os.environ.get(metrics.MULTIPROC_ENV):
        directory = tempfile.mkdtemp(prefix="lexigram-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
        os.environ[metrics.MULTIPROC_ENV] = directory
    return port


def serve_worker_metrics(app: TasksApp, port: int | None, slots: int) -> None:
    """In the process that runs jobs (the app started): count it as an up worker
    and serve ``/metrics`` (unless a sibling process already does)."""
    if port is None:
        return
    if directory := os.environ.get(metrics.MULTIPROC_ENV):
        metrics.enable_multiprocess(directory)
    metrics.worker_started(app, slots)
    metrics.serve_metrics(app, port)
