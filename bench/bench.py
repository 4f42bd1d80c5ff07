"""Benchmark of the ALL CDS service (not a test): in-process cost vs the JSON parse, and HTTP
latency / throughput vs a bare-Flask floor under the same gunicorn settings.

    .venv/bin/python bench/bench.py            # full run (~15 min on 2 cores)
    .venv/bin/python bench/bench.py --quick    # short run (~3 min): fewer calls, shorter phases

One run prints, and writes to bench/results/latest.json:
 1. in-process, every hook x record size (~20, ~150, ~600 resources and a 2,400 stress size):
    median orjson.loads of the body (the parse floor) and median handling of the same body through
    the real Flask app in this process (test client: envelope, prefetch, context, rules, cards,
    audit write), measured alternately call by call so machine noise hits both alike; their ratio;
    the same as CPU time of this thread (time.thread_time: what other processes on a shared
    machine cannot inflate; wall time can be); the growth per added resource (least squares of
    CPU time over the sizes); a stage breakdown of the
    ~600-resource order-sign call;
 2. HTTP, loopback only: `cdshooks serve --dev` and bench/floor_app.py, each under the same
    gunicorn settings, driven by the same load generator: closed loop at 1, 4 and 16 clients
    (p50/p95/p99, req/s), /health latency while 16 clients run, and an open loop at a fixed
    rate (latency counted from each request's scheduled send time, so queueing shows);
 3. RSS of the service's workers after warm-up and after --soak-calls calls.
Every answer must be 200 with a `cards` list or the run exits 1. Bounded: every phase has a call
count and a time limit. Workloads: bench/workload.py (labs over two years, no future-dated
administrations). Nothing here needs anything but this repository's own dependencies.
"""

from __future__ import annotations

import argparse
import gc
import http.client
import itertools
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import percentile, print_report  # noqa: E402
from workload import HOOK_SERVICES, PATIENT_ID, SIZES, chart_request, resource_count  # noqa: E402

HOOK_MARK = "00000000-bench-hook-instance-000000000000"
_NEW_PATIENTS = itertools.count(1)  # one id per "new patient" call in the whole run, never reused
LARGE_SIGN = ("order-sign", "large")


def bodies() -> dict[tuple[str, str], bytes]:
    out = {}
    for hook in HOOK_SERVICES:
        for size, n in SIZES.items():
            out[(hook, size)] = _body(hook, n)
    return out


def _body(hook: str, n: int, **options: Any) -> bytes:
    request = chart_request(hook, n, **options)
    request["hookInstance"] = HOOK_MARK
    return orjson.dumps(request)


def fresh(template: bytes, i: int, new_patient: bool = False) -> bytes:
    """A new hookInstance per call, as an EHR sends (same length, so no reallocation games).

    `new_patient`: also a patient id never sent before in this run, in every place the chart
    names it (Patient.id, every subject reference, context.patientId). Every resource's bytes then
    differ from every earlier call's, so nothing the service remembers by content (validation
    results, order readings) applies: the first call for a patient, where the same-chart calls
    measure an EHR re-sending one patient's chart hook after hook."""
    body = template.replace(HOOK_MARK.encode(), f"{i:036d}".encode())
    if new_patient:
        body = body.replace(PATIENT_ID.encode(), f"np{next(_NEW_PATIENTS):0{len(PATIENT_ID) - 2}d}".encode())
    return body


# -- 1. in-process ---------------------------------------------------------------------------

def in_process(templates: dict[tuple[str, str], bytes], calls: int) -> dict[str, Any]:
    from cdshooks.app import create_app
    from cdshooks.config import Settings
    from cdshooks.gctune import tune_for_serving

    tmp = Path(tempfile.mkdtemp(prefix="cdshooks-bench-inproc-"))
    try:
        app = create_app(Settings(auth="disabled", data_dir=tmp / "var"))
        tune_for_serving(app)
        client = app.test_client()
        rows = []
        for (hook, size), template in templates.items():
            rows.append(_measure(client, hook, size, template, max(5, calls // 4) if size == "stress" else calls))
        new_patient = _measure(client, *LARGE_SIGN, templates[LARGE_SIGN], calls, new_patient=True)
        # labs as a laboratory sends them (referenceRange, interpretation, performer): a bigger body
        lab_detail = _measure(client, "order-sign", "large", _body("order-sign", SIZES["large"], lab_detail=True), calls)
        stages = stage_breakdown(app, templates[LARGE_SIGN], calls)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    growth = {}
    for hook in HOOK_SERVICES:
        pts = [(r["resources"], r["handle_cpu_ms"]) for r in rows if r["hook"] == hook]
        mx, my = statistics.fmean(x for x, _ in pts), statistics.fmean(y for _, y in pts)
        growth[hook] = round(sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts), 4)
    return {"rows": rows, "growth_ms_per_resource": growth, "stages": stages, "new_patient": new_patient,
            "lab_detail": lab_detail}


def _measure(client: Any, hook: str, size: str, template: bytes, n: int, new_patient: bool = False) -> dict[str, Any]:
    """Parse vs handling of `n` calls (3 more dropped as warm-up), alternately call by call."""
    url = f"/cds-services/{HOOK_SERVICES[hook]}"
    parse, handle, parse_cpu, handle_cpu = [], [], [], []
    for i in range(n + 3):
        body = fresh(template, i, new_patient)
        c0, t0 = time.thread_time(), time.perf_counter()
        orjson.loads(body)
        c1, t1 = time.thread_time(), time.perf_counter()
        r = client.post(url, data=body, headers={"Content-Type": "application/json"})
        c2, t2 = time.thread_time(), time.perf_counter()
        if r.status_code != 200 or not isinstance(r.get_json().get("cards"), list):
            raise SystemExit(f"in-process {hook}/{size}: HTTP {r.status_code} {r.data[:200]!r}")
        if i >= 3:  # warm-up dropped
            parse.append((t1 - t0) * 1000)
            handle.append((t2 - t1) * 1000)
            parse_cpu.append((c1 - c0) * 1000)
            handle_cpu.append((c2 - c1) * 1000)
    p, h = statistics.median(parse), statistics.median(handle)
    pc, hc = statistics.median(parse_cpu), statistics.median(handle_cpu)
    return {"hook": hook, "size": size, "resources": resource_count(orjson.loads(template)),
            "kib": round(len(template) / 1024), "calls": n, "parse_ms": round(p, 3),
            "handle_ms": round(h, 2), "handle_p95_ms": round(percentile(handle, 95), 2),
            "ratio": round(h / p, 1), "parse_cpu_ms": round(pc, 3), "handle_cpu_ms": round(hc, 2),
            "cpu_ratio": round(hc / pc, 1) if pc else None, "cards": len(r.get_json()["cards"])}


def stage_breakdown(app: Any, template: bytes, calls: int) -> dict[str, float]:
    """Median ms of each step the service route takes, on the ~600-resource order-sign body."""
    from cdshooks.protocol.auth import ANONYMOUS
    from cdshooks.protocol.envelope import parse_json_object, read_hook_request
    from cdshooks.services import SERVICES
    from cdshooks.services.pipeline import call_service

    rt = app.extensions["cdshooks"]
    service = SERVICES["all-order-sign"]
    samples: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        out = fn()
        samples.setdefault(name, []).append((time.perf_counter() - t0) * 1000)
        return out

    for i in range(calls):
        raw = fresh(template, 10_000 + i)
        body = timed("JSON parse", lambda: parse_json_object(raw, max_bytes=rt.settings.max_body_bytes))
        hook_request = timed("envelope validation", lambda: read_hook_request(body))
        result = timed("call_service (prefetch, context, rules, cards)", lambda: call_service(
            service, hook_request, settings=rt.settings, knowledge=rt.knowledge, session=rt.session, iss=None))
        timed("response encoding", lambda: orjson.dumps({"cards": result.cards}))
        timed("audit write", lambda: rt.store.record_cards(
            hook_instance=hook_request.hook_instance, service_id=service.id, cards=result.cards, caller=ANONYMOUS,
            patient_id=hook_request.patient_id, knowledge_version=rt.knowledge.version))
    return {name: round(statistics.median(ms), 3) for name, ms in samples.items()}


# -- 2. HTTP ---------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn server in a subprocess (temp data dir, log to a file), loopback only."""

    def __init__(self, kind: str, workers: int, env_extra: dict[str, str]) -> None:
        self.kind, self.port = kind, free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix=f"cdshooks-bench-{kind}-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
        env.update({"CDSHOOKS_DATA_DIR": str(self.tmp / "var"), "CDSHOOKS_LOG_LEVEL": "WARNING", **env_extra})
        if kind == "service":
            cmd = [sys.executable, "-c", "import sys; from cdshooks.cli import main; sys.exit(main())",
                   "serve", "--dev", "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers)]
        else:
            cmd = [sys.executable, str(Path(__file__).with_name("floor_app.py")), "--port", str(self.port),
                   "--workers", str(workers)]
        self.log = (self.tmp / "server.log").open("wb")
        self.proc = subprocess.Popen(cmd, cwd=self.tmp, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.kind} server exited: {(self.tmp / 'server.log').read_text()[-2000:]}")
            try:
                status, _ = request_once("127.0.0.1", self.port, "GET", "/health", None, timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"{self.kind} server not healthy after {timeout:.0f}s")

    def worker_rss_kib(self) -> list[int]:
        out = []
        for pid in _children(self.proc.pid):
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out.append(int(line.split()[1]))
            except OSError:
                pass
        return sorted(out)

    def cpu_seconds(self) -> float:
        """CPU (user + system) its workers have used so far, all threads (audit writer included),
        from /proc: what the calls cost the server, whatever else runs on the machine."""
        ticks = 0
        for pid in _children(self.proc.pid):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        out += [int(p) for p in task.read_text().split()]
    return out


def request_once(host: str, port: int, method: str, path: str, body: bytes | None, timeout: float = 30,
                 conn: http.client.HTTPConnection | None = None) -> tuple[int, bytes]:
    c = conn or http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        r = c.getresponse()
        data = r.read()
        if r.getheader("Connection", "").lower() == "close":
            c.close()
        return r.status, data
    except (OSError, http.client.HTTPException):
        c.close()
        raise
    finally:
        if conn is None:
            c.close()


class Load:
    """Closed-loop or open-loop load from threads with keep-alive connections; every answer checked."""

    def __init__(self, port: int, path: str, template: bytes, new_patient: bool = False) -> None:
        self.port, self.path, self.template, self.new_patient = port, path, template, new_patient
        self.counter = 0
        self.lock = threading.Lock()
        self.errors: list[str] = []

    def _next(self) -> int:
        with self.lock:
            self.counter += 1
            return self.counter

    def _one(self, conn: http.client.HTTPConnection) -> None:
        status, data = request_once("127.0.0.1", self.port, "POST", self.path, fresh(self.template, self._next(), self.new_patient), conn=conn)
        if status != 200 or b'"cards"' not in data:
            raise RuntimeError(f"HTTP {status}: {data[:200]!r}")

    def closed(self, clients: int, calls: int, max_s: float, probe: Callable[[], float] | None = None,
               probe_every: int = 25) -> dict[str, Any]:
        """`probe` (1 client only): called after every `probe_every` answered calls, outside the
        timed calls and outside the req/s wall time; its values' median is reported as
        "probe_median". Why: the parse floor of the p50 target measured in the same seconds as
        the latencies (the machine's speed moves by 2x within a run), while perturbing at most
        one call in `probe_every` (the one after the pause), so the p50 is the loop's own."""
        lat: list[float] = []
        probed: list[float] = []
        paused = [0.0]
        deadline = time.monotonic() + max_s
        remaining = [calls]
        if probe is not None and clients != 1:
            raise ValueError("a probe between calls needs a single client")

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            while time.monotonic() < deadline:
                with self.lock:
                    if remaining[0] <= 0:
                        break
                    remaining[0] -= 1
                t0 = time.perf_counter()
                try:
                    self._one(conn)
                except Exception as exc:  # counted, reported, and the run fails
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                lat.append((time.perf_counter() - t0) * 1000)
                if probe is not None and len(lat) % probe_every == 0:
                    t1 = time.perf_counter()
                    probed.append(probe())
                    paused[0] += time.perf_counter() - t1
            conn.close()

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0 - paused[0]
        extra = {"probe_median": round(statistics.median(probed), 3), "probes": len(probed)} if probed else {}
        return summarize(lat) | {"clients": clients, "rps": round(len(lat) / wall, 1) if wall > 0 else 0.0} | extra

    def open(self, rate: float, seconds: float, senders: int = 32) -> dict[str, Any]:
        """Requests scheduled at a fixed rate; latency from the scheduled time (no coordinated
        omission). A request that cannot even start within 1 s of its slot counts as late; nothing
        is sent after `seconds` + 5 s (those slots count as unsent), so an overloaded server
        cannot stretch the phase."""
        lat: list[float] = []
        total = int(rate * seconds)
        start = time.perf_counter() + 0.2
        stop_at = start + seconds + 5.0
        slot = [0]
        late = [0]
        unsent = [0]

        def worker() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            while True:
                with self.lock:
                    i = slot[0]
                    slot[0] += 1
                if i >= total:
                    break
                due = start + i / rate
                now = time.perf_counter()
                if now > stop_at:
                    with self.lock:
                        unsent[0] += 1
                    continue
                if due > now:
                    time.sleep(due - now)
                elif now - due > 1.0:
                    late[0] += 1
                try:
                    self._one(conn)
                except Exception as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                lat.append((time.perf_counter() - due) * 1000)
            conn.close()

        threads = [threading.Thread(target=worker) for _ in range(senders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        achieved = len(lat) / max(1e-9, min(time.perf_counter(), stop_at) - start)
        return summarize(lat) | {"rate": rate, "achieved_rps": round(achieved, 1), "late": late[0], "unsent": unsent[0]}


def summarize(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2),
            "p99_ms": round(percentile(ms, 99), 2)}


def health_while(port: int, run: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `run()` while probing GET /health every 100 ms; (run's result, /health latencies)."""
    stop = threading.Event()
    lat: list[float] = []
    failures = [0]

    def probe() -> None:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                status, _ = request_once("127.0.0.1", port, "GET", "/health", None, timeout=10)
                if status == 200:
                    lat.append((time.perf_counter() - t0) * 1000)
                else:
                    failures[0] += 1
            except OSError:
                failures[0] += 1
            stop.wait(0.1)

    t = threading.Thread(target=probe)
    t.start()
    try:
        result = run()
    finally:
        stop.set()
        t.join()
    return result, summarize(lat) | {"failures": failures[0]}


def parse_floor_ms(template: bytes, n: int = 40) -> float:
    """Median orjson.loads of the body in this process (the parse floor of the HTTP targets)."""
    samples = []
    for i in range(n):
        body = fresh(template, i)
        t0 = time.perf_counter()
        orjson.loads(body)
        samples.append((time.perf_counter() - t0) * 1000)
    return round(statistics.median(samples), 3)


def http_phase(args: argparse.Namespace, template: bytes, soak_template: bytes) -> dict[str, Any]:
    """All servers up at once (the floor, the service, and one more service per --also worker
    model), each phase run on every server in turn, so machine noise lands on all alike; the
    soak (RSS) runs on the service alone at the end."""
    env = {"CDSHOOKS_THREADS": str(args.threads)} if args.threads else {}
    out: dict[str, Any] = {"workers": args.workers, "threads": args.threads or "default",
                           "parse_floor_ms_before": parse_floor_ms(template)}
    servers = {kind: Server(kind, args.workers, env) for kind in ("floor", "service")}
    for model in args.also:
        w, t = (int(x) for x in model.lower().split("x"))
        servers[f"service {w}x{t}"] = Server("service", w, {"CDSHOOKS_THREADS": str(t)})
    out["kinds"] = list(servers)
    try:
        loads = {}
        for kind, server in servers.items():
            server.wait_healthy()
            loads[kind] = Load(server.port, "/cds-services/all-order-sign", template)
            loads[kind].closed(2, args.warmup, 120)  # warm-up: both workers, caches, SQLite pages
            out[kind] = {"rss_kib_after_warmup": server.worker_rss_kib(), "closed": {}}
        for clients in (1, 4, 16):
            for kind, load in loads.items():
                server_cpu, client_cpu = servers[kind].cpu_seconds(), time.process_time()
                if clients == 16:
                    run, health = health_while(servers[kind].port, lambda: load.closed(16, args.calls, args.max_seconds))
                    out[kind]["health_during_16_clients"] = health
                elif clients == 1:  # the parse floor sampled between calls: the p50 target of that moment
                    run = load.closed(1, args.calls, args.max_seconds, probe=lambda: parse_floor_ms(template, 10))
                    run["parse_floor_ms_between_calls"] = run.pop("probe_median", None)
                else:
                    run = load.closed(clients, args.calls, args.max_seconds)
                if run["n"]:  # CPU per answered call: the server's workers, and this load generator
                    run["server_cpu_ms_per_call"] = round((servers[kind].cpu_seconds() - server_cpu) * 1000 / run["n"], 2)
                    run["client_cpu_ms_per_call"] = round((time.process_time() - client_cpu) * 1000 / run["n"], 2)
                out[kind]["closed"][str(clients)] = run
        for kind, load in loads.items():  # 1 client, a patient never seen before on every call
            fresh_load = Load(servers[kind].port, "/cds-services/all-order-sign", template, new_patient=True)
            server_cpu, client_cpu = servers[kind].cpu_seconds(), time.process_time()
            run = fresh_load.closed(1, args.calls, args.max_seconds)
            if run["n"]:
                run["server_cpu_ms_per_call"] = round((servers[kind].cpu_seconds() - server_cpu) * 1000 / run["n"], 2)
                run["client_cpu_ms_per_call"] = round((time.process_time() - client_cpu) * 1000 / run["n"], 2)
            out[kind]["closed_new_patient_1"] = run
            load.errors += fresh_load.errors
        for kind, load in loads.items():
            out[kind]["open"] = load.open(args.rate, args.open_seconds)
        out["parse_floor_ms_after"] = parse_floor_ms(template)
        soak_load = Load(servers["service"].port, "/cds-services/all-order-sign", soak_template)
        soak = soak_load.closed(4, args.soak_calls, args.soak_max_seconds)
        loads["service"].errors += soak_load.errors
        out["service"]["soak"] = {"calls": soak["n"], "rss_kib_after": servers["service"].worker_rss_kib(),
                                  "record": args.soak_size, "rps": soak["rps"]}
        for kind, load in loads.items():
            out[kind]["errors"] = len(load.errors)
            out[kind]["first_errors"] = load.errors[:3]
    finally:
        for server in servers.values():
            server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short run: fewer calls, shorter phases")
    parser.add_argument("--skip-http", action="store_true", help="in-process part only")
    parser.add_argument("--skip-in-process", action="store_true", help="HTTP part only")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    parser.add_argument("--threads", type=int, default=0, help="CDSHOOKS_THREADS for both servers (0: serve's default)")
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests per second")
    parser.add_argument("--also", action="append", default=[], metavar="WxT",
                        help="also run a service with W workers x T threads, side by side (repeatable; e.g. 2x1 = sync)")
    parser.add_argument("--soak-calls", type=int, default=None, help="calls of the RSS soak (default 2,000 quick / 20,000 full)")
    parser.add_argument("--soak-size", choices=sorted(SIZES), default="large", help="record size of the soak calls")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args(argv)
    q = args.quick
    args.calls, args.max_seconds = (150, 30.0) if q else (600, 90.0)
    args.warmup, args.open_seconds = (20, 10.0) if q else (50, 30.0)
    soak_calls, args.soak_max_seconds = (2000, 90.0) if q else (20_000, 420.0)
    if args.soak_calls is not None:  # an explicit count gets the time to finish it (at >= 20 calls/s)
        soak_calls, args.soak_max_seconds = args.soak_calls, max(args.soak_max_seconds, args.soak_calls / 20)
    args.soak_calls = soak_calls
    inproc_calls = 20 if q else 60

    templates = bodies()
    results: dict[str, Any] = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": "bench/bench.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load_average_at_start": [round(x, 1) for x in os.getloadavg()]},
    }
    if not args.skip_in_process:
        results["in_process"] = in_process(templates, inproc_calls)
    gc.collect()
    if not args.skip_http:
        results["http"] = http_phase(args, templates[LARGE_SIGN], templates[("order-sign", args.soak_size)])
        results["http"]["request_kib"] = round(len(templates[LARGE_SIGN]) / 1024)
    results["machine"]["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.output.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    tmp.replace(args.output)
    print_report(results)
    print(f"\nwritten: {args.output}")
    http = results.get("http") or {}
    http_errors = sum(http.get(k, {}).get("errors", 0) for k in http.get("kinds", ()))
    return 1 if http_errors else 0


if __name__ == "__main__":
    sys.exit(main())
