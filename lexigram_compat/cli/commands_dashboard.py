"""``dashboard APP``: serve the web dashboard (needs the ``dashboard`` extra)."""

from __future__ import annotations

import click

from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.loading import load_app
from lexigram_compat.cli.state import CliState

__all__ = ["dashboard"]

TOKEN_ENV = "LEXIGRAM_DASHBOARD_TOKEN"


@click.command()
@click.argument("app_spec", metavar="APP")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--token",
    envvar=TOKEN_ENV,
    metavar="TOKEN",
    help=f"Require this token on every request (required off loopback; or ${TOKEN_ENV}).",
)
@click.option("--allow-actions", is_flag=True, help="Allow replay and purge (read-only without it).")
@click.option(
    "--worker", "run_worker", is_flag=True, help="Also run a worker here (the memory engine needs it)."
)
@click.pass_obj
def dashboard(
    state: CliState,
    *,
    app_spec: str,
    host: str,
    port: int,
    token: str | None,
    allow_actions: bool,
    run_worker: bool,
) -> None:
    """Serve the web dashboard: queues, job lookup, dead letters, schedules, workers.

    It binds loopback by default. Any other address needs --token (or
    $LEXIGRAM_DASHBOARD_TOKEN): every request without it gets 401; a browser
    opens http://HOST:PORT/?token=TOKEN once and keeps it in a cookie.
    """
    try:
        import uvicorn

        from lexigram_compat.dashboard import DashboardSecurity, create_dashboard
        from lexigram_compat.dashboard.security import is_loopback
    except ImportError as exc:
        raise CliError(
            f"the dashboard needs {exc.name or 'its dependencies'}, which is not installed",
            hint="pip install 'lexigram-compat[dashboard]'",
        ) from None
    if token is not None and not token.strip():
        raise CliError("--token is empty", hint="give a long random value, e.g. from: openssl rand -hex 24")
    if not is_loopback(host) and token is None:
        raise CliError(
            f"--host {host}: binding a non-loopback address needs a token",
            hint=f"add --token TOKEN (or set ${TOKEN_ENV}), or bind 127.0.0.1",
        )
    app = load_app(app_spec)
    if run_worker:
        native = [b for b in app.backend_set if b.engine.job_source() is None]
        if native:
            raise CliError(
                f"--worker: the {native[0].key} engine's jobs are run by its own worker",
                hint=f"drop --worker and run: {native[0].engine.capabilities.worker}",
            )
    asgi = create_dashboard(app, DashboardSecurity(token, allow_actions), run_worker=run_worker)
    mode = "actions allowed" if allow_actions else "read-only"
    auth = "token required" if token else "no token (loopback only)"
    click.echo(f"dashboard on http://{host}:{port}/ ({mode}, {auth}); Ctrl-C stops it", err=True)
    # No access log: a first visit's URL carries ?token=...
    config = uvicorn.Config(asgi, host=host, port=port, access_log=False, log_level=state.log_level)
    uvicorn.Server(config).run()
