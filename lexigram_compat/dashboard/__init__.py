"""The web dashboard: one UI over whichever engine the app runs on.

``lexigram-compat dashboard APP`` serves it with uvicorn; :func:`create_dashboard`
builds the ASGI app (Starlette) for embedding or tests. Templates and static
files ship in this package: it works offline (no CDN). Needs the
``dashboard`` extra (``pip install 'lexigram-compat[dashboard]'``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from lexigram_compat.dashboard.security import DashboardSecurity, SecurityHeaders, TokenGate
from lexigram_compat.dashboard.throughput import Throughput
from lexigram_compat.dashboard.views import Views

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp

__all__ = ["DashboardSecurity", "create_dashboard"]

HERE = Path(__file__).parent
SAMPLE_SECONDS = 5.0


def create_dashboard(app: TasksApp, security: DashboardSecurity, *, run_worker: bool = False) -> Starlette:
    """The dashboard of ``app`` as an ASGI application.

    It starts ``app`` when served (and closes it after); with ``run_worker``
    it also runs a worker for the app in the same process (what the memory
    engine needs: its jobs exist only in this process).

    Args:
        app: The tasks app to show.
        security: Token, actions switch and CSRF secret.
        run_worker: Also consume the app's queues here.
    """
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    throughput = Throughput()
    views = Views(app, security, templates, throughput)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with app:
            background: list[asyncio.Task[Any]] = [asyncio.create_task(_sample(views))]
            if run_worker:
                background.append(asyncio.create_task(app.run_worker()))
            try:
                yield
            finally:
                if run_worker:
                    app.stop_worker()
                for task in background[:1]:
                    task.cancel()
                await asyncio.gather(*background, return_exceptions=True)

    routes = [
        Route("/", views.overview),
        Route("/jobs", views.job),
        Route("/dead-letters", views.dead_letters),
        Route("/dead-letters/replay", views.replay, methods=["POST"]),
        Route("/dead-letters/purge", views.purge, methods=["POST"]),
        Route("/schedules", views.schedules),
        Route("/workers", views.workers),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    middleware = [Middleware(SecurityHeaders), Middleware(TokenGate, security=security)]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)


async def _sample(views: Views) -> None:
    """Sample the workers' counters for the throughput series, between page views too."""
    from lexigram_compat.operations import workers

    while True:
        with contextlib.suppress(Exception):
            views.throughput.sample(await workers(views.app))
        await asyncio.sleep(SAMPLE_SECONDS)
