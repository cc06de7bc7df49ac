"""``app.autodiscover_tasks()`` as Celery projects call it: lazily, and in a Django project
without arguments (its installed apps), in a real Django project in a subprocess."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from lexigram_compat import ConfigurationError
from lexigram_compat.celery import Celery


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))
        for name in [m for m in sys.modules if m.split(".")[0] in {"billing", "empty_pkg"}]:
            del sys.modules[name]


def test_task_modules_are_imported_when_the_app_is_first_used_not_at_the_call(on_path: Path) -> None:
    # @app.task on the test's own app, not @shared_task: a shared task would join every shim
    # app of this process (the conformance apps' registry among them).
    _write(on_path, {
        "billing/__init__.py": "",
        "billing/app.py": """
            from lexigram_compat.celery import Celery

            app = Celery("lazy", broker="memory://", set_as_current=False)
        """,
        "billing/tasks.py": """
            from billing.app import app

            @app.task
            def invoice(order_id):
                return order_id
        """,
        "empty_pkg/__init__.py": "",  # no tasks module: skipped, as in Celery
    })  # fmt: skip
    from billing.app import app  # type: ignore[import-not-found]

    try:
        app.autodiscover_tasks(["billing", "empty_pkg"])
        assert "billing.tasks" not in sys.modules
        app.tasks_app  # noqa: B018 - building the lexigram app runs the discovery
        assert "billing.tasks" in sys.modules
        assert "billing.tasks.invoice" in app.tasks
    finally:
        app.close()


def test_force_imports_at_once_and_a_broken_task_module_is_not_hidden(on_path: Path) -> None:
    _write(on_path, {
        "billing/__init__.py": "",
        "billing/tasks.py": "import billing_missing_dependency\n",
    })  # fmt: skip
    app = Celery("forced", broker="memory://", set_as_current=False)
    try:
        with pytest.raises(ModuleNotFoundError, match="billing_missing_dependency"):
            app.autodiscover_tasks(["billing"], force=True)
    finally:
        app.close()


def test_no_packages_outside_django_is_refused_naming_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    app = Celery("plain", broker="memory://", set_as_current=False)
    with pytest.raises(ConfigurationError, match="no Django settings") as caught:
        app.autodiscover_tasks()
    assert "app.autodiscover_tasks(['myapp', ...])" in (caught.value.hint or "")


DJANGO_PROJECT = {
    "shop/__init__.py": """
        from .celery import app as celery_app

        __all__ = ("celery_app",)
    """,
    "shop/settings.py": """
        import os

        SECRET_KEY = "test-only"
        INSTALLED_APPS = ["django.contrib.contenttypes", "orders"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["SHOP_DB"]}}
        USE_TZ = True
        CELERY_BROKER_URL = "memory://"
        CELERY_TASK_DEFAULT_QUEUE = "shop"
    """,
    "shop/celery.py": """
        import os

        from lexigram_compat.celery import Celery

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop.settings")
        app = Celery("shop")
        app.config_from_object("django.conf:settings", namespace="CELERY")
        app.autodiscover_tasks()
    """,
    "orders/__init__.py": "",
    "orders/models.py": """
        from django.db import models

        class Order(models.Model):
            status = models.CharField(max_length=20, default="new")
    """,
    "orders/tasks.py": """
        from celery_stub import shared_task  # swapped below
        from orders.models import Order

        @shared_task(bind=True, max_retries=2, default_retry_delay=0)
        def confirm(self, order_id):
            order = Order.objects.get(pk=order_id)
            order.status = f"confirmed after {self.request.retries}"
            order.save()
            return order.status
    """.replace("celery_stub", "lexigram_compat.celery"),
}

DJANGO_SCRIPT = """
import django
from django.db import connection

import shop  # Django's own order: the project package first (its celery app), then setup
django.setup()
from orders.models import Order

with connection.schema_editor() as editor:
    editor.create_model(Order)
order = Order.objects.create()
app = shop.celery_app
result = app.tasks["orders.tasks.confirm"].delay(order.pk)
app.tasks_app.run_worker_sync(until_idle=True)
print(sorted(app.tasks), result.get(timeout=10), Order.objects.get(pk=order.pk).status)
app.close()
"""


def test_a_django_project_discovers_its_installed_apps_tasks_without_arguments(tmp_path: Path) -> None:
    _write(tmp_path, DJANGO_PROJECT)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "shop.settings",
        "SHOP_DB": str(tmp_path / "shop.sqlite3"),
    }
    done = subprocess.run(
        [sys.executable, "-c", DJANGO_SCRIPT],
        check=False,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "['orders.tasks.confirm'] confirmed after 0 confirmed after 0"
