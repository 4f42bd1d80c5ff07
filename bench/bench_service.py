"""Latency benchmark for the ALL CDS service (not a test): HTTP end to end + in-process breakdown.

    /work/venv/bin/python bench/bench_service.py            # 300 requests per phase, ~1 minute
    /work/venv/bin/python bench/bench_service.py --requests 100 --concurrency 2 --max-seconds 60

Phase 1 (http): starts `cdshooks serve --dev` (gunicorn, 2 workers, auth disabled, loopback only,
temp data dir) as a subprocess and POSTs the heavy order-sign request of bench/workload.py to
/cds-services/all-order-sign: first one at a time (latency as one clinician sees it), then with
`--concurrency` clients (throughput). Every answer must be 200 with a `cards` list, or it counts
as an error. Bounded by --requests and --max-seconds; only 127.0.0.1 is ever contacted.

Phase 2 (profile): calls `cdshooks.services.pipeline.call_service` directly and times each stage
by wrapping the functions the pipeline calls (resolve_prefetch, build_context, run_rules,
render_cards), plus what the route does around it (JSON parse, envelope validation, response
encoding, the audit write), and each rule family alone.

Why: the spec asks services to "respond quickly (on the order of 500 ms)"; our goal is p95 < 150 ms
on a 2-core machine. Results go to bench/results/latest.json; see bench/README.md.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import orjson
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import GOAL_P95_MS, print_table, summarize  # noqa: E402
from workload import order_sign_request  # noqa: E402

SERVICE_ID = "all-order-sign"
MAX_REQUESTS = 5000
MAX_SECONDS = 600.0
HOOK_INSTANCE_MARK = "00000000-bench-hook-instance-000000000000"


# --------------------------------------------------------------------------------------------
# phase 1: the real server over HTTP
# --------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(port: int, workers: int) -> list[str]:
    """`cdshooks serve`, via the console script next to this interpreter when it is installed."""
    script = Path(sys.executable).with_name("cdshooks")
    args = ["serve", "--dev", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "import sys; from cdshooks.cli import main; sys.exit(main())", *args]


class Server:
    """`cdshooks serve` in a subprocess with its own temp data dir; the log goes to a file."""

    def __init__(self, workers: int) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.tmp = Path(tempfile.mkdtemp(prefix="cdshooks-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
        env.update(CDSHOOKS_DATA_DIR=str(self.tmp / "var"), CDSHOOKS_BIND_HOST="127.0.0.1", CDSHOOKS_LOG_LEVEL="WARNING")
        self.log_path = self.tmp / "server.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(serve_command(self.port, workers), cwd=self.tmp, env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cdshooks serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                r = requests.get(self.base + "/health", timeout=1)
                if r.status_code == 200:
                    return r.json()
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"cdshooks serve not healthy after {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # gunicorn: graceful shutdown on SIGTERM
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


@dataclass
class HttpRun:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    cards: int | None = None
    topics: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {
            **summarize(self.latencies_ms),
            "errors": len(self.errors),
            "first_errors": self.errors[:3],
            "wall_s": round(self.wall_s, 2),
            "throughput_rps": round(len(self.latencies_ms) / self.wall_s, 2) if self.wall_s else 0.0,
            "cards_per_response": self.cards,
            "card_topics": self.topics,
        }


def run_http(base: str, template: bytes, n: int, concurrency: int, max_seconds: float) -> HttpRun:
    """POST the request n times with `concurrency` clients; stop early at max_seconds."""
    url = f"{base}/cds-services/{SERVICE_ID}"
    run = HttpRun()
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    local = threading.local()

    def one(_: int) -> None:
        if time.monotonic() > deadline:
            return
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        body = template.replace(HOOK_INSTANCE_MARK.encode(), str(uuid.uuid4()).encode())
        started = time.perf_counter()
        try:
            r = session.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=30)
            elapsed = (time.perf_counter() - started) * 1000
            cards = r.json().get("cards") if r.status_code == 200 else None
        except (requests.RequestException, ValueError) as exc:
            with lock:
                run.errors.append(type(exc).__name__)
            return
        with lock:
            if r.status_code != 200 or not isinstance(cards, list):
                run.errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                return
            run.latencies_ms.append(elapsed)
            if run.cards is None:
                run.cards = len(cards)
                run.topics = sorted(f"{c['source']['topic']['code']}/{c['indicator']}" for c in cards)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(n)))
    run.wall_s = time.perf_counter() - started
    return run


# --------------------------------------------------------------------------------------------
# phase 2: in-process stage breakdown around call_service
# --------------------------------------------------------------------------------------------
@dataclass
class StageTimer:
    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, stage: str, seconds: float) -> None:
        self.samples.setdefault(stage, []).append(seconds * 1000)

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(stage, time.perf_counter() - started)

        return timed

    def time(self, stage: str, fn: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = fn()
        self.add(stage, time.perf_counter() - started)
        return result


PIPELINE_STAGES = (
    ("resolve_prefetch", "prefetch resolution"),
    ("build_context", "context building"),
    ("run_rules", "rules"),
    ("render_cards", "card rendering"),
)


@contextmanager
def wrapped_pipeline(timer: StageTimer) -> Iterator[None]:
    """Time the stages call_service runs, in place, and put the real functions back afterwards."""
    from cdshooks.services import pipeline

    originals = {name: getattr(pipeline, name) for name, _ in PIPELINE_STAGES}
    try:
        for name, label in PIPELINE_STAGES:
            setattr(pipeline, name, timer.wrap(label, originals[name]))
        yield
    finally:
        for name, fn in originals.items():
            setattr(pipeline, name, fn)


def run_profile(template: bytes, iterations: int) -> dict[str, Any]:
    from cdshooks.config import Settings
    from cdshooks.knowledge import default_knowledge
    from cdshooks.protocol.auth import ANONYMOUS
    from cdshooks.protocol.envelope import parse_json_object, read_hook_request
    from cdshooks.rules.registry import run_rules
    from cdshooks.services import SERVICES
    from cdshooks.services.pipeline import call_service, rule_settings
    from cdshooks.store import Store

    tmp = Path(tempfile.mkdtemp(prefix="cdshooks-bench-profile-"))
    settings = Settings(auth="disabled", data_dir=tmp / "var")
    settings.data_dir.mkdir(parents=True)
    started = time.perf_counter()
    knowledge = default_knowledge()
    knowledge_load_ms = (time.perf_counter() - started) * 1000
    store = Store(settings.effective_database_url)
    store.migrate()
    session = requests.Session()
    session.trust_env = False
    service = SERVICES[SERVICE_ID]
    timer = StageTimer()
    families: dict[str, list[float]] = {}
    gc_before = [g["collections"] for g in gc.get_stats()]
    try:
        with wrapped_pipeline(timer):
            for i in range(iterations + 3):  # 3 warm-up calls are dropped below
                raw = template.replace(HOOK_INSTANCE_MARK.encode(), str(uuid.uuid4()).encode())
                body = timer.time("JSON parsing", lambda: parse_json_object(raw, max_bytes=settings.max_body_bytes))
                hook_request = timer.time("envelope validation", lambda: read_hook_request(body))
                result = timer.time("call_service total", lambda: call_service(
                    service, hook_request, settings=settings, knowledge=knowledge, session=session, iss=None))
                timer.time("response encoding", lambda: orjson.dumps({"cards": result.cards}))
                timer.time("audit write (store)", lambda: store.record_cards(
                    hook_instance=hook_request.hook_instance, service_id=service.id, cards=result.cards,
                    caller=ANONYMOUS, patient_id=hook_request.patient_id or None,
                    knowledge_version=knowledge.version))
                if i == 2:
                    timer.samples = {k: [] for k in timer.samples}
                    gc_before = [g["collections"] for g in gc.get_stats()]
        gc_per_call = [
            round((g["collections"] - b) / iterations, 3) for g, b in zip(gc.get_stats(), gc_before)
        ]
        # The same call with the cyclic GC off: the difference is what collector pauses cost.
        gc_off: list[float] = []
        gc.disable()
        try:
            for _ in range(max(10, iterations // 2)):
                raw = template.replace(HOOK_INSTANCE_MARK.encode(), str(uuid.uuid4()).encode())
                hook_request = read_hook_request(parse_json_object(raw, max_bytes=settings.max_body_bytes))
                t0 = time.perf_counter()
                call_service(service, hook_request, settings=settings, knowledge=knowledge, session=session, iss=None)
                gc_off.append((time.perf_counter() - t0) * 1000)
        finally:
            gc.enable()
        # Each family alone, on the context of the last call (what a slow family costs).
        from cdshooks.context.builder import build_context

        ctx = build_context(
            result.prefetch.data, patient_id=hook_request.patient_id, draft_orders=hook_request.draft_orders,
            selections=None, kb=knowledge, now=datetime.now(timezone.utc),
            missing_prefetch=frozenset(result.prefetch.missing),
        )
        for family in service.families:
            for _ in range(max(5, iterations // 5)):
                t0 = time.perf_counter()
                run_rules(ctx, knowledge, rule_settings(settings), (family,))
                families.setdefault(family, []).append((time.perf_counter() - t0) * 1000)
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    stages = {name: summarize(ms) for name, ms in timer.samples.items()}
    inside = sum(stages[label]["mean_ms"] for _, label in PIPELINE_STAGES if label in stages)
    stages["call_service other (hook check, missing-data card)"] = {
        "mean_ms": round(stages["call_service total"]["mean_ms"] - inside, 2)
    }
    return {
        "iterations": iterations,
        "knowledge_load_ms": round(knowledge_load_ms, 1),
        "findings": [f"{f.topic}/{f.indicator}:{f.rule_id}" for f in result.findings],
        "stages": stages,
        "rule_families": {f: summarize(ms) for f, ms in families.items()},
        "gc": {
            "collections_per_call_by_generation": gc_per_call,
            "call_service_with_gc_disabled": summarize(gc_off),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per HTTP phase (max %d)" % MAX_REQUESTS)
    parser.add_argument("--concurrency", type=int, default=4, help="clients in the throughput phase (1-32)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="time bound per HTTP phase")
    parser.add_argument("--profile-iterations", type=int, default=50)
    parser.add_argument("--observations", type=int, default=400)
    parser.add_argument("--administrations", type=int, default=50)
    parser.add_argument("--skip-http", action="store_true", help="only the in-process profile")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    n = max(1, min(args.requests, MAX_REQUESTS))
    concurrency = max(1, min(args.concurrency, 32))
    max_seconds = max(1.0, min(args.max_seconds, MAX_SECONDS))

    body = order_sign_request(n_observations=args.observations, n_administrations=args.administrations)
    body["hookInstance"] = HOOK_INSTANCE_MARK
    template = orjson.dumps(body)
    results: dict[str, Any] = {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "workload": {
            "service": SERVICE_ID,
            "request_kib": round(len(template) / 1024, 1),
            "observations": args.observations,
            "body_measurements": 20,
            "administrations": args.administrations,
            "active_medication_requests": 10,
            "draft_orders": len(body["context"]["draftOrders"]["entry"]),
        },
    }
    if not args.skip_http:
        server = Server(args.workers)
        try:
            health = server.wait_healthy()
            run_http(server.base, template, 10, 2, 30)  # warm-up: both workers, caches, SQLite pages
            sequential = run_http(server.base, template, n, 1, max_seconds)
            concurrent = run_http(server.base, template, n, concurrency, max_seconds)
        finally:
            server.stop()
        results["http"] = {
            "workers": args.workers,
            "knowledge": health.get("knowledge"),
            "runs": {"sequential (1 client)": sequential.report(), f"concurrent ({concurrency} clients)": concurrent.report()},
        }
        p95 = sequential.report()["p95_ms"]
        met = p95 is not None and p95 < GOAL_P95_MS and not sequential.errors
        results["goal"] = {"p95_ms": p95, "goal_p95_ms": GOAL_P95_MS, "met": met}
    results["profile"] = run_profile(template, max(1, min(args.profile_iterations, 1000)))

    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(args.output)
    print_table(results)
    print(f"\nwritten: {args.output}")
    errors = sum(r["errors"] for r in (results.get("http") or {}).get("runs", {}).values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
