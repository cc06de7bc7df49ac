"""A real headless Chromium (Debian's ``chromium``, driven by Playwright) and a
dashboard process to point it at."""

from __future__ import annotations

import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.operations.conftest import Ops, Proc
from tests.ports import free_port

CHROMIUM = os.environ.get("LEXIGRAM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> str:
    """The Chromium binary; fails under CI (scripts/test installs it), skips elsewhere."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; scripts/test does it)"
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@contextmanager
def chromium() -> Iterator[Browser]:
    path = require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def http(url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    """(status, body) of one request, without following redirects."""
    return http_full(url, data=data, headers=headers)[:2]


def http_full(
    url: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    """(status, body, response headers by lower-case name) of one request, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status), response.read().decode(), _lower(response.headers.items())
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode(), _lower(error.headers.items())


def _lower(items: list[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value for name, value in items}


def start_dashboard(ops: Ops, *args: str, host: str = "127.0.0.1", env: dict[str, str] | None = None) -> str:
    """Start ``lexigram-compat dashboard`` and return its base URL (reached via 127.0.0.1)."""
    port = free_port()
    argv = [sys.executable, "-m", "lexigram_compat.cli", "dashboard", "tests.operations.ops_app:app"]
    proc: Proc = ops.spawn([*argv, "--host", host, "--port", str(port), *args], "dashboard", env)
    proc.wait_for("the dashboard to listen", lambda: "Uvicorn running" in proc.log)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while http(base + "/static/style.css")[0] not in (200, 401):
        if time.monotonic() > deadline:
            pytest.fail(f"dashboard never answered; log:\n{proc.log}")
        time.sleep(0.1)
    return base
