"""The dashboard in a real headless Chromium, over real engines with real jobs:
memory (jobs and worker in the dashboard's process), PostgreSQL (a native
worker process) and Celery on Redis (a ``celery worker`` process)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from tests.operations.browser import chromium, http, http_full, start_dashboard
from tests.operations.conftest import Ops
from tests.operations.ops_app import APP, MEMORY, SEED_ENV
from tests.operations.test_cli_engines import poll

SCREENSHOTS_ENV = "LEXIGRAM_SCREENSHOTS_DIR"
"""Set to docs/images to refresh the README's screenshots."""
VIEWPORT: ViewportSize = {"width": 1280, "height": 720}


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    target = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path) / name
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 10_000  # a rendered page, not a blank one


def replay_from_page(page: Page, base: str, job_id: str, fixed: Path) -> str:
    """Replay ``job_id`` from the dead-letter page (confirming); return the new job's id."""
    page.goto(f"{base}/dead-letters")
    row = page.locator(f'tr[data-job="{job_id}"]')
    expect(row).to_have_count(1)
    fixed.write_text("")
    row.locator("button[name=replay]").click()
    expect(page.locator(".question")).to_have_text(f"Replay dead letter {job_id} on default?")
    page.locator("button[name=confirm]").click()
    notice = page.locator(".notice")
    expect(notice).to_contain_text(f"replayed {job_id} as new job ")
    new_id = notice.inner_text().rsplit(" ", 1)[1]
    expect(page.locator(f'tr[data-job="{job_id}"]')).to_have_count(0)
    poll("the replayed job to run", fixed.with_suffix(".ran").exists)
    page.goto(f"{base}/jobs?id={new_id}")
    poll("the job page to say completed", lambda: page.reload() and "completed" in page.inner_text("#job"))
    return new_id


def test_memory_pages_render_and_a_dead_letter_replayed_from_the_page_runs(
    ops_factory: Callable[[dict[str, Any]], Ops], tmp_path: Path
) -> None:
    fixed = tmp_path / "fixed"
    ops = ops_factory(MEMORY)
    base = start_dashboard(ops, "--allow-actions", "--worker", env={SEED_ENV: str(fixed)})
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(base + "/")
        expect(page).to_have_title("Overview · lexigram-compat dashboard")
        dead = page.locator('tr[data-queue="tasks"] [data-count="dead"]')
        poll("the seeded job to be dead-lettered", lambda: page.reload() and dead.inner_text() == "1")
        expect(page.locator('tr[data-queue="tasks"] [data-count="scheduled"]')).to_have_text("1")
        expect(page.locator("section.backend h2")).to_contain_text("memory · primary · 1 live worker(s)")
        screenshot(page, tmp_path, "dashboard-overview.png")

        page.get_by_role("link", name="Dead letters").click()
        row = page.locator("tr[data-job]")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(1)).to_have_text("ops.fail")
        expect(row.locator("td.error")).to_have_text("RuntimeError: ops failed: seeded")
        arguments = row.locator("details.args pre")
        expect(arguments).to_be_hidden()  # arguments only when expanded
        row.locator("details.args summary").click()
        expect(arguments).to_be_visible()
        expect(arguments).to_contain_text('"args": ["seeded"]')
        screenshot(page, tmp_path, "dashboard-dead-letters.png")
        job_id = row.get_attribute("data-job")
        assert job_id is not None

        page.goto(f"{base}/jobs?id={job_id}")
        expect(page.locator("#job")).to_contain_text("failed")
        expect(page.locator("#job .error")).to_have_text("RuntimeError: ops failed: seeded")
        expect(page.locator("ol.history li").last).to_contain_text("dead-lettered")

        replay_from_page(page, base, job_id, fixed)
        page.goto(base + "/")
        cell = page.locator('tr[data-queue="tasks"] td.throughput')

        def counted() -> bool:
            page.reload()
            return sum(int(n) for n in (cell.get_attribute("data-throughput") or "0").split()) >= 1

        poll("the overview to count the replayed job's attempt", counted)

        page.goto(base + "/schedules")
        fires = page.locator('tr[data-schedule="ops.nightly"] ul.fires li')
        expect(fires).to_have_count(3)
        expect(fires.first).to_contain_text("T03:00:00")
        page.goto(base + "/workers")
        expect(page.locator("tr[data-worker]")).to_have_count(1)
        expect(page.locator("tr[data-worker] td.slots")).to_have_text("0 / 10")


def fail_job(ops: Ops, fixed: Path, reason: str) -> str:
    kwargs = json.dumps({"reason": reason, "fixed_when": str(fixed)})
    job_id: str = ops.cli_json("enqueue", APP, "ops.fail", "--kwargs", kwargs)["job_id"]
    poll(f"job {reason} to die", lambda: ops.cli_json("job", "show", APP, job_id)["status"] == "failed")
    return job_id


@pytest.mark.parametrize("engine", ["postgres", "celery-redis"])
def test_engine_pages_purge_asks_and_replay_runs(
    engine: str,
    request: pytest.FixtureRequest,
    ops_factory: Callable[[dict[str, Any]], Ops],
    tmp_path: Path,
) -> None:
    ops = ops_factory(request.getfixturevalue(engine.replace("-", "_") + "_section"))
    worker = ops.worker("--concurrency", "2")
    poll("the worker to be listed", lambda: ops.cli_json("workers", APP)["workers"])
    fixed = tmp_path / "fixed"
    doomed, saved = fail_job(ops, tmp_path / "never", "doomed"), fail_job(ops, fixed, "saved")
    base = start_dashboard(ops, "--allow-actions")
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(base + "/")
        queue = ops.section["backend"].get("queue_name", "tasks")
        expect(page.locator(f'tr[data-queue="{queue}"] [data-count="dead"]')).to_have_text("2")
        expect(page.locator("section.backend h2")).to_contain_text(f"{engine} · primary · 1 live worker(s)")

        page.goto(base + "/dead-letters")
        page.fill("input[name=task]", "ops.add")
        page.locator("form.filter button").click()
        expect(page.locator(".empty")).to_have_text("No dead letters of ops.add on default.")
        page.fill("input[name=task]", "ops.fail")
        page.locator("form.filter button").click()
        expect(page.locator("tr[data-job]")).to_have_count(2)

        # Purge asks first; Cancel keeps the dead letter.
        page.locator(f'tr[data-job="{doomed}"] button[name=purge]').click()
        expect(page.locator(".question")).to_have_text(f"Delete dead letter {doomed} on default for good?")
        page.get_by_role("link", name="Cancel").click()
        expect(page.locator(f'tr[data-job="{doomed}"]')).to_have_count(1)
        assert ops.cli_json("job", "show", APP, doomed)["status"] == "failed"
        page.locator(f'tr[data-job="{doomed}"] button[name=purge]').click()
        page.locator("button[name=confirm]").click()
        expect(page.locator(".notice")).to_have_text("purged 1 dead letter(s)")
        expect(page.locator(f'tr[data-job="{doomed}"]')).to_have_count(0)

        replay_from_page(page, base, saved, fixed)

        page.goto(base + "/workers")
        row = page.locator("tr[data-worker]")
        expect(row).to_have_count(1)
        expect(row.locator("td").nth(1)).to_have_text(engine)
        expect(row.locator("td.slots")).to_have_text("0 / 2")
    assert worker.process.poll() is None


def test_dashboard_worker_flag_is_refused_where_the_engine_has_its_own_worker(
    celery_redis_section: dict[str, Any], ops_factory: Callable[[dict[str, Any]], Ops]
) -> None:
    refused = ops_factory(celery_redis_section).cli("dashboard", APP, "--worker", code=2)
    assert "--worker: the celery-redis engine's jobs are run by its own worker" in refused.stderr


def test_off_loopback_every_request_without_the_token_gets_401(
    ops_factory: Callable[[dict[str, Any]], Ops],
) -> None:
    ops = ops_factory(MEMORY)
    refused = ops.cli("dashboard", APP, "--host", "0.0.0.0", code=2)
    assert "--host 0.0.0.0: binding a non-loopback address needs a token" in refused.stderr

    token = "s3cret-dashboard-token-4242"
    base = start_dashboard(ops, "--allow-actions", host="0.0.0.0", env={"LEXIGRAM_DASHBOARD_TOKEN": token})
    for path in ("/", "/dead-letters", "/jobs?id=x", "/workers", "/schedules", "/static/style.css"):
        status, body = http(base + path)
        assert status == 401, path
        assert token not in body
    assert http(base + "/", headers={"Authorization": "Bearer wrong"})[0] == 401
    assert http(base + "/", data=b"job_id=x")[0] == 401
    assert http(base + "/", headers={"Authorization": f"Bearer {token}"})[0] == 200
    with chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{base}/dead-letters?token={token}&task=ops.fail")
        expect(page).to_have_title("Dead letters · lexigram-compat dashboard")
        assert token not in page.url  # the token left the address bar for an HttpOnly cookie
        assert page.url.endswith("/dead-letters?task=ops.fail")
        page.goto(base + "/workers")
        expect(page).to_have_title("Workers · lexigram-compat dashboard")
    assert token not in ops.started[-1].log


def test_posts_need_the_csrf_token_and_actions_enabled(ops_factory: Callable[[dict[str, Any]], Ops]) -> None:
    ops = ops_factory(MEMORY)
    base = start_dashboard(ops, "--allow-actions")
    for form in (b"job_id=x", b"job_id=x&confirmed=yes", b"job_id=x&csrf_token=forged&confirmed=yes"):
        status, body = http(base + "/dead-letters/purge", data=form)
        assert status == 403
        assert "CSRF token is missing or wrong" in body
    page = http(base + "/dead-letters")[1]
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    assert csrf is None  # no dead letters: no forms; the confirmation page carries the token
    status, body = http(base + "/dead-letters/purge", data=b"backend=default")
    assert status == 403

    status, _, headers = http_full(base + "/")
    assert status == 200
    assert headers["x-frame-options"] == "DENY"  # a confirmation page cannot be framed and clicked through
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"

    read_only = start_dashboard(ops)
    status, body = http(read_only + "/dead-letters/replay", data=b"job_id=x")
    assert status == 403
    with chromium() as browser:
        page_ = browser.new_page(viewport=VIEWPORT)
        page_.goto(read_only + "/dead-letters")
        expect(page_.locator("header .meta")).to_contain_text("read-only")
        expect(page_.locator("button[name=replay]")).to_have_count(0)
