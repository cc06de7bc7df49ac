"""A smoke test of one installed extra, run by ``scripts/test-packaging`` in a fresh venv.

``python smoke.py EXTRA`` (``postgres``, ``dramatiq``, ``celery`` or ``redis``) builds an app
on that extra's engine against the real server, enqueues one job, starts
``lexigram-compat worker`` (which execs ``dramatiq``/``celery worker`` for those engines),
waits for the job to complete with its result, stops the worker with SIGTERM and removes
what it wrote. It imports only the standard library and the installed package, so it
proves the wheel and that one extra are enough. Prints ``smoke ok: ...``; exits 1 otherwise.

Servers: ``SMOKE_POSTGRES_DSN`` (default ``postgresql://postgres@127.0.0.1:5432/test``) and
``SMOKE_REDIS_URL`` (default ``redis://127.0.0.1:6379``).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

TAG = uuid.uuid4().hex[:10]
APP_MODULE = f"smoke_app_{TAG}"
APP_SOURCE = """
import json, os
from lexigram_compat import TasksApp, task


@task(name="smoke.add")
def add(a: int, b: int) -> int:
    return a + b


app = TasksApp.from_dict({"tasks": json.loads(os.environ["SMOKE_SECTION"])})
native = app.native
"""
DEADLINE = 60.0


def section(extra: str) -> dict[str, Any]:
    """The ``tasks:`` section of the smoke app for ``extra``, isolated by TAG."""
    redis_base = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
    common: dict[str, Any] = {
        "scheduler": {"enabled": False},
        "worker": {"shutdown_timeout": 5, "poll_interval": 0.2},
    }
    if extra == "postgres":
        dsn = os.environ.get("SMOKE_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
        backend = {"type": "postgres", "postgres_dsn": dsn, "queue_name": f"smoke-{TAG}"}
        extra_section: dict[str, Any] = {"postgres_schema": f"smoke_{TAG}"}
        return {**common, "engine": "native", "backend": backend, "extra": extra_section}
    if extra in ("dramatiq", "redis"):
        # redis: backend type redis under engine auto, which picks Dramatiq.
        backend = {"type": "redis", "redis_url": f"{redis_base}/1", "queue_name": f"smoke-{TAG}"}
        engine = "dramatiq" if extra == "dramatiq" else "auto"
        dramatiq = {"namespace": f"smoke-{TAG}"}
        return {**common, "engine": engine, "backend": backend, "extra": {"dramatiq": dramatiq}}
    if extra == "celery":
        prefix = f"smoke-{TAG}:"
        backend = {"type": "redis", "redis_url": f"{redis_base}/8", "queue_name": f"smoke-{TAG}"}
        celery = {"key_prefix": prefix, "pool": "threads", "transport_options": {"global_keyprefix": prefix}}
        return {**common, "engine": "celery", "backend": backend, "extra": {"celery": celery}}
    raise SystemExit(f"unknown extra {extra!r}: use postgres, dramatiq, celery or redis")


def cleanup(extra: str, config: dict[str, Any]) -> None:
    """Remove the schema or the keys this run wrote."""
    if extra == "postgres":
        import psycopg
        from psycopg import sql

        with psycopg.connect(config["backend"]["postgres_dsn"], autocommit=True) as conn:
            schema = config["extra"]["postgres_schema"]
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        return
    import redis

    client = redis.Redis.from_url(config["backend"]["redis_url"])
    try:
        keys = set(client.scan_iter(match=f"*smoke-{TAG}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def lexigram_compat(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The installed console script of this venv."""
    script = Path(sys.executable).parent / "lexigram-compat"
    return subprocess.Popen([str(script), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def run(extra: str, env: dict[str, str]) -> str:
    sys.path.insert(0, os.getcwd())
    os.environ.update(env)
    module = __import__(APP_MODULE)
    app = module.app
    async with app:
        job_id = (await app.queue.enqueue(module.add(2, 3))).unwrap()
        worker = lexigram_compat("worker", f"{APP_MODULE}:app", env=env)
        try:
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                info = await app.queue.get_job(job_id)
                if info is not None and info.status.value == "completed":
                    if info.result != 5:
                        raise SystemExit(f"smoke FAILED: job {job_id} completed with {info.result!r}, not 5")
                    break
                if worker.poll() is not None:
                    out = worker.stdout.read().decode() if worker.stdout else ""
                    raise SystemExit(f"smoke FAILED: the worker exited {worker.returncode}:\n{out}")
                await asyncio.sleep(0.1)
            else:
                raise SystemExit(f"smoke FAILED: job {job_id} not completed within {DEADLINE:.0f}s")
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
    return f"smoke ok: [{extra}] {app.config.resolved_engine} job {job_id} completed with 5"


def main() -> None:
    extra = sys.argv[1] if len(sys.argv) == 2 else ""
    config = section(extra)
    env = {**os.environ, "SMOKE_SECTION": json.dumps(config), "PYTHONPATH": os.getcwd()}
    Path(f"{APP_MODULE}.py").write_text(APP_SOURCE)
    try:
        if extra == "postgres":
            migrate = lexigram_compat("db", "migrate", f"{APP_MODULE}:app", env=env)
            out, _ = migrate.communicate(timeout=60)
            if migrate.returncode != 0:
                raise SystemExit(f"smoke FAILED: db migrate exited {migrate.returncode}:\n{out.decode()}")
        print(asyncio.run(run(extra, env)))
    finally:
        cleanup(extra, config)
        Path(f"{APP_MODULE}.py").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
