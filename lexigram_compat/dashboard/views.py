"""The dashboard's pages and actions (Starlette handlers over :mod:`lexigram_compat.operations`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from lexigram_compat.cli.output import scrub
from lexigram_compat.config import redact_text
from lexigram_compat.dashboard.security import CSRF_FIELD, DashboardSecurity
from lexigram_compat.dashboard.throughput import Throughput
from lexigram_compat.errors import TaskQueueError
from lexigram_compat.operations import call_engine, find_job, queue_stats, workers
from lexigram_compat.scheduling import schedule_job_id

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend

__all__ = ["ARGS_PREVIEW_CHARS", "Views", "preview"]

ARGS_PREVIEW_CHARS = 200
PAGE_SIZE = 50
NEXT_FIRES = 3


def preview(value: Any, limit: int = ARGS_PREVIEW_CHARS) -> str:
    """JSON of ``value``, secrets redacted, cut to ``limit`` characters."""
    text = json.dumps(scrub(value), default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sparkline(values: list[int], width: int = 120, height: int = 24) -> str:
    """SVG polyline points for ``values`` (a flat line when all are zero)."""
    top = max(values) or 1
    step = width / max(1, len(values) - 1)
    return " ".join(f"{i * step:.1f},{height - v / top * (height - 2) - 1:.1f}" for i, v in enumerate(values))


class Views:
    """Handlers bound to one app."""

    def __init__(
        self, app: TasksApp, security: DashboardSecurity, templates: Jinja2Templates, throughput: Throughput
    ) -> None:
        self.app = app
        self.security = security
        self.templates = templates
        self.throughput = throughput

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        base = {
            "csrf_field": CSRF_FIELD,
            "csrf_token": self.security.csrf_token(),
            "actions": self.security.allow_actions,
            "notice": request.query_params.get("done"),
            "engines": ", ".join(sorted({b.key for b in self.app.backend_set})),
        }
        return self.templates.TemplateResponse(request, name, {**base, **context}, status_code=status)

    def failed(self, request: Request, error: TaskQueueError) -> Response:
        status = 503 if "unreachable" in str(error) else 500
        return self.render(request, "error.html", status=status, message=redact_text(str(error)))

    def _backend(self, name: str | None) -> Backend:
        backend = self.app.backend_set.get(name) if name else None
        return backend or self.app.backend_set.primary

    # -- pages ----------------------------------------------------------------------
    async def overview(self, request: Request) -> Response:
        try:
            stats = await queue_stats(self.app)
            live = await workers(self.app)
        except TaskQueueError as error:
            return self.failed(request, error)
        self.throughput.sample(live)
        for backend in stats:
            series = self.throughput.per_minute(backend["backend"])
            backend["throughput"] = series
            backend["sparkline"] = sparkline(series)
            backend["workers"] = sum(1 for w in live if w.backend == backend["backend"])
            for row in backend["queues"]:
                row["throughput"] = self.throughput.per_minute(backend["backend"], row["queue"])
                row["sparkline"] = sparkline(row["throughput"], width=80, height=16)
        return self.render(request, "overview.html", backends=stats, page="overview")

    async def job(self, request: Request) -> Response:
        job_id = request.query_params.get("id", "").strip()
        view = None
        if job_id:
            try:
                found = await find_job(self.app, job_id)
            except TaskQueueError as error:
                return self.failed(request, error)
            view = found[1] if found else None
        letter = view.dead_letter if view else None
        return self.render(
            request,
            "job.html",
            page="job",
            job_id=job_id,
            view=view,
            args=preview({"args": letter.args, "kwargs": letter.kwargs}) if letter else None,
            status=404 if job_id and view is None else 200,
        )

    async def dead_letters(self, request: Request) -> Response:
        backend = self._backend(request.query_params.get("backend"))
        task = request.query_params.get("task") or None
        try:
            offset = max(0, int(request.query_params.get("offset", "0")))
        except ValueError:
            offset = 0
        dlq = self.app.dead_letter_queue_of(backend)
        try:
            letters = await call_engine("dead letter list", lambda: dlq.list(PAGE_SIZE, offset, task))
            total = await call_engine("dead letter count", dlq.count)
        except TaskQueueError as error:
            return self.failed(request, error)
        rows = [
            {
                "job_id": letter.job_id,
                "task_name": letter.task_name,
                "queue": letter.queue,
                "attempts": letter.attempts,
                "error": redact_text(f"{letter.error_type}: {letter.error_message}")[:160],
                "failed_at": letter.failed_at,
                "args": preview({"args": letter.args, "kwargs": letter.kwargs}),
                "undecodable": letter.raw is not None,
            }
            for letter in letters
        ]
        return self.render(
            request,
            "dead_letters.html",
            page="dead",
            rows=rows,
            total=total,
            task=task or "",
            backend=backend.name,
            backends=[b.name for b in self.app.backend_set],
            offset=offset,
            page_size=PAGE_SIZE,
        )

    async def schedules(self, request: Request) -> Response:
        now = datetime.now(UTC)
        default_tz = self.app.config.scheduler.timezone
        rows = []
        for schedule in self.app.registry.schedules():
            fires = schedule.fire_times(now, now + timedelta(days=400), default_tz, limit=NEXT_FIRES)
            last_fire = schedule.latest_fire(now, default_tz)
            last_id = schedule_job_id(schedule.name, last_fire)
            try:
                found = await find_job(self.app, last_id)
            except TaskQueueError as error:
                return self.failed(request, error)
            rows.append(
                {
                    "name": schedule.name,
                    "task": schedule.task_name,
                    "cron": schedule.cron or f"every {schedule.every}",
                    "timezone": "UTC" if schedule.every is not None else schedule.timezone or default_tz,
                    "next": fires,
                    "last_fire": last_fire,
                    "last_job": last_id if found else None,
                    "last_status": found[1].status if found else None,
                }
            )
        return self.render(request, "schedules.html", page="schedules", rows=rows)

    async def workers(self, request: Request) -> Response:
        try:
            live = await workers(self.app)
        except TaskQueueError as error:
            return self.failed(request, error)
        now = datetime.now(UTC)
        rows = [{**w.as_dict(), "age": max(0.0, (now - w.last_heartbeat).total_seconds())} for w in live]
        local = any(not b.engine.capabilities.multi_process for b in self.app.backend_set)
        return self.render(request, "workers.html", page="workers", rows=rows, local=local)

    # -- actions ---------------------------------------------------------------------
    async def _guard(self, request: Request) -> tuple[dict[str, str], Response | None]:
        form = {k: str(v) for k, v in (await request.form()).items()}
        if not self.security.csrf_ok(form.get(CSRF_FIELD)):
            return form, self.render(
                request,
                "error.html",
                status=403,
                message="refused: the form's CSRF token is missing or wrong",
            )
        if not self.security.allow_actions:
            message = "refused: this dashboard is read-only (start it with --allow-actions)"
            return form, self.render(request, "error.html", status=403, message=message)
        return form, None

    def _confirm(self, request: Request, form: dict[str, str], action: str, question: str) -> Response:
        fields = {k: v for k, v in form.items() if k not in (CSRF_FIELD, "confirmed")}
        return self.render(
            request, "confirm.html", page="dead", action=action, question=question, fields=fields
        )

    def _back(self, form: dict[str, str], done: str) -> Response:
        query = {"backend": form.get("backend", ""), "task": form.get("task", ""), "done": done}
        return RedirectResponse(f"/dead-letters?{urlencode(query)}", status_code=303)

    async def replay(self, request: Request) -> Response:
        form, refused = await self._guard(request)
        if refused is not None:
            return refused
        backend = self._backend(form.get("backend"))
        dlq = self.app.dead_letter_queue_of(backend)
        job_id, task = form.get("job_id") or None, form.get("task") or None
        if form.get("confirmed") != "yes":
            what = f"dead letter {job_id}" if job_id else f"every dead letter{f' of {task}' if task else ''}"
            return self._confirm(request, form, "/dead-letters/replay", f"Replay {what} on {backend.name}?")
        if job_id:
            result = await dlq.replay(job_id)
            if result.is_err():
                return self.failed(request, result.unwrap_err())
            return self._back(form, f"replayed {job_id} as new job {result.unwrap()}")
        many = await dlq.replay_all(task)
        if many.is_err():
            return self.failed(request, many.unwrap_err())
        return self._back(form, f"replayed {len(many.unwrap())} dead letter(s)")

    async def purge(self, request: Request) -> Response:
        form, refused = await self._guard(request)
        if refused is not None:
            return refused
        backend = self._backend(form.get("backend"))
        dlq = self.app.dead_letter_queue_of(backend)
        job_id = form.get("job_id") or None
        if form.get("confirmed") != "yes":
            what = f"dead letter {job_id}" if job_id else "every dead letter"
            return self._confirm(
                request, form, "/dead-letters/purge", f"Delete {what} on {backend.name} for good?"
            )
        try:
            if job_id:
                removed = int(await call_engine("dead letter purge", lambda: dlq.purge(job_id)))
            else:
                removed = await call_engine("dead letter purge", dlq.purge_all)
        except TaskQueueError as error:
            return self.failed(request, error)
        return self._back(form, f"purged {removed} dead letter(s)")
