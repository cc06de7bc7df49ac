"""``app.autodiscover_tasks()``: import each package's task module, when the app is used.

As in Celery, discovery is lazy: a Django project calls ``app.autodiscover_tasks()`` in
``proj/celery.py``, imported by ``proj/__init__.py`` before Django's app registry is
ready, so importing ``orders/tasks.py`` (which imports models) there would fail. The
packages are resolved, and their modules imported, when the lexigram app is first built
(the first ``.delay()``, a worker loading ``proj.celery:app.tasks_app``), or at once with
``force=True``. Without packages, a configured Django project's installed apps are
searched (Celery's Django fix-up does the same); outside Django that is refused.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable, Sequence

from lexigram_compat.errors import ConfigurationError

__all__ = ["Autodiscovery", "django_installed_apps"]

Packages = Sequence[str] | Callable[[], Sequence[str]] | None


def _django_configured() -> bool:
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        return True
    conf = sys.modules.get("django.conf")
    settings = getattr(conf, "settings", None)
    return bool(getattr(settings, "configured", False))


def django_installed_apps() -> list[str]:
    """The import names of a Django project's installed apps (``django.setup()`` first
    if the app registry is not ready: a worker process, as Celery's fix-up does)."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    return [config.name for config in apps.get_app_configs()]


def _import_task_module(package: str, related_name: str) -> None:
    name = f"{package}.{related_name}"
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name not in {name, package}:
            raise  # the task module exists and imports something missing: a real error


class Autodiscovery:
    """The ``autodiscover_tasks`` calls of one app, run once each."""

    def __init__(self) -> None:
        self._pending: list[tuple[Callable[[], Sequence[str]], str]] = []
        self._lock = threading.Lock()

    def add(self, packages: Packages, related_name: str, *, force: bool) -> None:
        if packages is None:
            if not _django_configured():
                raise ConfigurationError(
                    "app.autodiscover_tasks() without packages searches a Django project's "
                    "installed apps, and no Django settings are configured",
                    hint="pass the packages: app.autodiscover_tasks(['myapp', ...]), or set "
                    "DJANGO_SETTINGS_MODULE",
                )
            source: Callable[[], Sequence[str]] = django_installed_apps
        elif callable(packages):
            source = packages
        else:
            names = list(packages)
            source = lambda: names  # noqa: E731 - the same shape as a callable argument
        with self._lock:
            self._pending.append((source, related_name))
        if force:
            self.run()

    def run(self) -> None:
        """Import the task modules of every call not yet run."""
        with self._lock:
            pending, self._pending = self._pending, []
        for source, related_name in pending:
            for package in source():
                _import_task_module(package, related_name)
