"""`cdshooks serve`: the service under gunicorn on the embedded defaults.

The master process validates configuration, the knowledge base and the store (migrating once,
or with CDSHOOKS_MIGRATE=never only checking the schema is current) before any worker starts, so
bad config exits non-zero with a one-line reason.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from typing import Any, Callable

import click

from .config import DEFAULT_BIND_HOST, DEFAULT_BIND_PORT, is_loopback, settings_from_env
from .errors import CdsError
from .protocol import request_log

DEFAULT_THREADS = 1  # sync workers; see gunicorn_options


def _check_startup(env: dict[str, str]) -> Any:
    from .app import check_policy_ids
    from .knowledge import knowledge_for
    from .store import Store

    settings = settings_from_env(env)
    knowledge = knowledge_for(settings.regimen_dir)
    check_policy_ids(settings, knowledge)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store.from_settings(settings)
    store.prepare(settings.migrate)
    store.close()
    return settings, knowledge


@click.command()
@click.option("--host", default=None, help=f"bind address (default {DEFAULT_BIND_HOST})")
@click.option("--port", default=DEFAULT_BIND_PORT, show_default=True, type=click.IntRange(1, 65535), envvar="CDSHOOKS_PORT",
              help="listen port (or CDSHOOKS_PORT)")
@click.option("--workers", default=None, type=click.IntRange(1, 64), help="gunicorn workers (default: CDSHOOKS_WORKERS or 2)")
@click.option("--dev", is_flag=True, help="try-it-out mode: auth disabled, loopback only")
def serve(host: str | None, port: int, workers: int | None, dev: bool) -> None:
    """Run the CDS service under gunicorn."""
    try:
        fmt = request_log.log_format()
    except CdsError as exc:
        click.echo(f"cdshooks: {exc.message}", err=True)
        sys.exit(2)
    request_log.configure_logging(fmt, os.environ.get("CDSHOOKS_LOG_LEVEL", "INFO"))
    host = host or os.environ.get("CDSHOOKS_BIND_HOST") or DEFAULT_BIND_HOST
    if dev:
        if not is_loopback(host):
            click.echo(f"cdshooks: --dev binds to loopback only, not {host}", err=True)
            sys.exit(2)
        os.environ["CDSHOOKS_AUTH"] = "disabled"
    os.environ["CDSHOOKS_BIND_HOST"] = host
    try:
        settings, knowledge = _check_startup(dict(os.environ))
    except CdsError as exc:
        click.echo(f"cdshooks: {exc.message}", err=True)
        sys.exit(2)
    metrics_dir = settings.data_dir / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    if not settings.auth_required:
        banner = "AUTH DISABLED: no JWT checked; loopback only; never use with real patient data"
        _announce(fmt, "!" * len(banner) + "\n" + banner + "\n" + "!" * len(banner), banner)
    n_workers = workers or int(os.environ.get("CDSHOOKS_WORKERS", "2"))
    _announce(fmt, f"cdshooks: knowledge {knowledge.version}; listening on http://{host}:{port} ({n_workers} workers)")
    run_gunicorn(host, port, n_workers, logconfig=request_log.gunicorn_logconfig(fmt), graceful_timeout=settings.graceful_timeout)


def gunicorn_options(
    host: str, port: int, workers: int, logconfig: dict[str, Any] | None = None, graceful_timeout: int = 20
) -> dict[str, Any]:
    """The gunicorn settings of `cdshooks serve` (bench/ runs its bare-Flask floor app with these).

    CDSHOOKS_THREADS > 1 selects gthread workers with that many threads each (README,
    *Worker model*, says what was measured and why the default is sync workers).
    """
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "timeout": 30,
        "graceful_timeout": graceful_timeout,
        "accesslog": None,  # access lines would carry URLs; our own log says what matters
        "child_exit": _child_exit,
        "worker_class": _draining_worker_class(),
        "logconfig_dict": logconfig or {},
    }
    threads = int(os.environ.get("CDSHOOKS_THREADS", str(DEFAULT_THREADS)) or DEFAULT_THREADS)
    if threads > 1:
        options.update(worker_class="gthread", threads=threads)
    return options


def _announce(fmt: str, text: str, json_text: str | None = None) -> None:
    """Start-up words on stderr; with CDSHOOKS_LOG_FORMAT=json as a log line like every other."""
    if fmt == "json":
        logging.getLogger("cdshooks.serve").warning(json_text or text)
    else:
        click.echo(text, err=True)


def _load_app() -> Any:
    from .app import create_app
    from .gctune import tune_for_serving

    app = create_app()  # in each worker (no preload): its objects are then frozen there
    tune_for_serving()
    return app


def run_gunicorn(
    host: str, port: int, workers: int, logconfig: dict[str, Any] | None = None, graceful_timeout: int = 20,
    load: Callable[[], Any] = _load_app,
) -> None:
    """Run `load()`'s WSGI app (built in each worker) under gunicorn with `gunicorn_options`.

    SIGTERM (Kubernetes, systemd) makes the gunicorn master close its listening socket at once
    (new connections are refused, so the balancer moves on) and each sync worker finish the request
    it is serving; after ``graceful_timeout`` seconds (CDSHOOKS_GRACEFUL_TIMEOUT) stragglers are
    killed. Feedback and audit rows are committed before the response is written, so whatever a
    client saw acknowledged is in the database whichever way the process ends."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_options(host, port, workers, logconfig, graceful_timeout).items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return load()

    _App().run()


def _draining_worker_class() -> type:
    """gunicorn's sync worker, but SIGTERM also closes its copy of the listening socket.

    The master closes its copy on SIGTERM; a worker busy with a request would otherwise keep the
    socket open, so the kernel would go on queueing new connections that are reset when the worker
    exits. With every copy closed, new connections are refused at once while in-flight ones finish.
    """
    from gunicorn.workers.sync import SyncWorker

    class DrainingSyncWorker(SyncWorker):  # type: ignore[misc]
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            for listener in self.sockets:
                listener.close()

    return DrainingSyncWorker


def _child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
