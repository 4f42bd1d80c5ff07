"""`cdshooks serve`: the service under gunicorn on the embedded defaults.

The master process validates configuration, the knowledge base and the store (migrating once,
or with CDSHOOKS_MIGRATE=never only checking the schema is current) before any worker starts, so
bad config exits non-zero with a one-line reason.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
from typing import Any, Callable, NoReturn

import click

from .config import DEFAULT_BIND_HOST, DEFAULT_BIND_PORT, is_loopback, settings_from_env
from .errors import CdsError
from .protocol import request_log


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# gthread workers with this many threads each (CDSHOOKS_THREADS): a call waiting on a slow FHIR
# server (up to CDSHOOKS_FETCH_DEADLINE_SECONDS) occupies one thread, not the whole worker, so
# /health and other calls are still answered (issue 11); one thread at a time runs a call's Python
# (the CPU gate, gate.py, wired in app.serving_app). 1 = gunicorn's sync worker.
DEFAULT_THREADS = 4


def _check_startup(env: dict[str, str]) -> Any:
    from .app import open_store
    from .knowledge import knowledge_for

    settings = settings_from_env(env)
    knowledge = knowledge_for(settings.regimen_dir)
    open_store(settings, knowledge).close()
    import requests

    from .gctune import warm_up_services

    with requests.Session() as unused:  # the made-up chart names no FHIR server: nothing is fetched
        warm_up_services(settings, knowledge, unused)  # imports shared by the workers forked later
    return settings, knowledge


def _fail(message: str) -> NoReturn:
    """Bad configuration: one line on stderr, exit 2 (every case, issue 11)."""
    click.echo(f"cdshooks: {message}", err=True)
    sys.exit(2)


def _workers(flag: int | None) -> int:
    if flag is not None:
        return flag
    raw = os.environ.get("CDSHOOKS_WORKERS", "2").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        _fail(f"CDSHOOKS_WORKERS must be a whole number from 1 to 64, got {raw!r}")
    return int(raw)


def _threads() -> int:
    raw = os.environ.get("CDSHOOKS_THREADS", str(DEFAULT_THREADS)).strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        _fail(f"CDSHOOKS_THREADS must be a whole number from 1 to 64, got {raw!r}")
    return int(raw)


def _log_level() -> str:
    raw = os.environ.get("CDSHOOKS_LOG_LEVEL", "INFO").strip().upper()
    if raw not in LOG_LEVELS:
        _fail(f"CDSHOOKS_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return raw


def _check_port_free(host: str, port: int) -> None:
    """Bind the address once (as gunicorn will, SO_REUSEADDR) before touching anything shared:
    a start that fails on a port in use must not wipe a running instance's metrics directory."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            _fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


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
        _fail(exc.message)
    request_log.configure_logging(fmt, _log_level())
    n_workers = _workers(workers)
    n_threads = _threads()
    host = host or os.environ.get("CDSHOOKS_BIND_HOST") or DEFAULT_BIND_HOST
    if dev:
        if not is_loopback(host):
            _fail(f"--dev binds to loopback only, not {host}")
        os.environ["CDSHOOKS_AUTH"] = "disabled"
    os.environ["CDSHOOKS_BIND_HOST"] = host
    _check_port_free(host, port)  # first: nothing (schema, metrics dir) is touched on a busy port
    try:
        settings, knowledge = _check_startup(dict(os.environ))
    except CdsError as exc:
        _fail(exc.message)
    metrics_dir = settings.data_dir / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())
    if not settings.auth_required:
        banner = "AUTH DISABLED: no JWT checked; loopback only; never use with real patient data"
        _announce(fmt, "!" * len(banner) + "\n" + banner + "\n" + "!" * len(banner), banner)
    if settings.auth_required and not settings.trusted_issuers:
        from .app import NO_ISSUERS_WARNING

        _announce(fmt, "!" * len(NO_ISSUERS_WARNING) + "\n" + NO_ISSUERS_WARNING + "\n" + "!" * len(NO_ISSUERS_WARNING), NO_ISSUERS_WARNING)
    _announce(fmt, f"cdshooks: knowledge {knowledge.version}; listening on http://{host}:{port} ({n_workers} workers x {n_threads} threads)")
    run_gunicorn(host, port, n_workers, logconfig=request_log.gunicorn_logconfig(fmt), graceful_timeout=settings.graceful_timeout,
                 threads=n_threads)


def gunicorn_options(
    host: str, port: int, workers: int, logconfig: dict[str, Any] | None = None, graceful_timeout: int = 20,
    threads: int | None = None,
) -> dict[str, Any]:
    """The gunicorn settings of `cdshooks serve` (bench/ runs its bare-Flask floor app with these).

    `threads` (CDSHOOKS_THREADS, default 4) > 1 selects gthread workers with that many threads
    each, so a call waiting on a slow FHIR server never blocks /health; 1 = the draining sync
    worker (README, *Worker model*, says what was measured).
    """
    options: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "timeout": 30,
        "graceful_timeout": graceful_timeout,
        "accesslog": None,  # access lines would carry URLs; our own log says what matters
        "child_exit": _child_exit,
        "worker_exit": _worker_exit,
        "worker_class": _draining_worker_class(),
        "logconfig_dict": logconfig or {},
    }
    threads = _threads() if threads is None else threads
    if threads > 1:
        options.update(worker_class=_balancing_thread_worker_class(), threads=threads)
    return options


def _announce(fmt: str, text: str, json_text: str | None = None) -> None:
    """Start-up words on stderr; with CDSHOOKS_LOG_FORMAT=json as a log line like every other."""
    if fmt == "json":
        logging.getLogger("cdshooks.serve").warning(json_text or text)
    else:
        click.echo(text, err=True)


def _load_app() -> Any:
    from .app import serving_app

    return serving_app()  # in each worker (no preload): its objects are then frozen there


def run_gunicorn(
    host: str, port: int, workers: int, logconfig: dict[str, Any] | None = None, graceful_timeout: int = 20,
    load: Callable[[], Any] = _load_app,
    threads: int = DEFAULT_THREADS,
) -> None:
    """Run `load()`'s WSGI app (built in each worker) under gunicorn with `gunicorn_options`.

    SIGTERM (Kubernetes, systemd) makes the gunicorn master close its listening socket at once
    (new connections are refused, so the balancer moves on) and each sync worker finish the request
    it is serving; after ``graceful_timeout`` seconds (CDSHOOKS_GRACEFUL_TIMEOUT) stragglers are
    killed. Feedback is committed before the response is written, so feedback a client saw
    acknowledged is in the database whichever way the process ends. Audit rows are committed by
    the worker's background writer; `worker_exit` drains it after the requests in flight, so a
    graceful stop keeps every row of every answered call (store/audit_writer.py).

    With threads > 1 the worker is gunicorn's gthread worker, which on SIGTERM leaves its accept
    loop within a second, closes its listening sockets and waits up to graceful_timeout for the
    requests in flight (the same drain as the sync worker below)."""
    from gunicorn.app.base import BaseApplication

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # imported here, not first inside `_child_exit`: that hook runs in the master's SIGCHLD
        # handler, and two workers exiting together (a SIGTERM drain) re-entered a half-done
        # import there, so the master exited 1 ("partially initialized module"). The directory
        # is set by now, so the workers forked from here get multiprocess metric values.
        import prometheus_client.multiprocess  # noqa: F401

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in gunicorn_options(host, port, workers, logconfig, graceful_timeout, threads).items():
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


# A gthread worker that already holds connections waits this long per connection held (at most
# ACCEPT_DELAY_MAX_SECONDS) before it accepts another, so a worker holding fewer takes it first.
ACCEPT_DELAY_PER_CONNECTION_SECONDS = 0.002
ACCEPT_DELAY_MAX_SECONDS = 0.008


def _balancing_thread_worker_class() -> type:
    """gunicorn's gthread worker, but one already holding connections lets an idler worker accept.

    Why: every worker polls the one shared listening socket and the first awake accepts, and a
    keep-alive connection then stays with the worker that accepted it. Measured (bench/README.md,
    round 5): four keep-alive clients opening together often all landed on one of two workers,
    which then ran four calls under one GIL while the other worker and its core sat idle
    (34 req/s instead of ~70). Here a worker holding k connections (in flight or kept alive)
    sleeps k x 2 ms (at most 8 ms) before accepting: the kernel wakes every worker polling the
    socket, so one holding fewer accepts first and this one's accept then finds nothing
    (EAGAIN, which gunicorn ignores). With one worker, or none held, it accepts at once. The
    sleep releases the GIL, so this worker's calls in flight run meanwhile.
    """
    import time

    from gunicorn.workers.gthread import ThreadWorker

    class BalancingThreadWorker(ThreadWorker):  # type: ignore[misc]
        def accept(self, server: Any, listener: Any) -> None:
            held = self.nr_conns
            if held and self.cfg.workers > 1:
                time.sleep(min(held * ACCEPT_DELAY_PER_CONNECTION_SECONDS, ACCEPT_DELAY_MAX_SECONDS))
            super().accept(server, listener)

    return BalancingThreadWorker


def _worker_exit(server: Any, worker: Any) -> None:
    """In the worker, after the SIGTERM drain: commit every audit row its writer accepted."""
    from .app import close_app

    close_app(getattr(worker, "wsgi", None))


def _child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
