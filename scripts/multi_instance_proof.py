#!/usr/bin/env python3
"""Multi-instance proof with real parts, all on 127.0.0.1: one PostgreSQL, three `cdshooks serve`
(--instances N; gunicorn with PROOF_WORKERS workers each, default 1; CDSHOOKS_MIGRATE=never after
one `cdshooks db upgrade`) and HAProxy in front with /health checks. Then:

1. replay: one signed token sent to every instance at the same instant -> exactly one 200;
2. feedback through the balancer -> every acknowledged item is a row, exactly once, and every
   instance served some;
3. one instance SIGKILLed (master and workers) mid-load -> HAProxy marks it DOWN within its check
   budget, requests after that all succeed, no acknowledged feedback is lost or duplicated;
4. the instance restarted on its port -> HAProxy marks it UP and it serves again.

    .venv/bin/python scripts/multi_instance_proof.py [--instances 2..5]   # JSON summary; exit 0 = all held

PostgreSQL: CDSHOOKS_TEST_POSTGRES_URL's server if set (scripts/test.sh exports one), else a
throwaway one from scripts/postgres-test.sh. A fresh database is created for the run and dropped.
Bounded: about 30-60 s on a 2-core machine; every wait has a deadline.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

import requests  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from cdshooks.store.tables import feedback  # noqa: E402
from support.processes import CDSHOOKS, Instance, LocalIssuer, serve_env, start_serve  # noqa: E402
from support.requests import order_sign_request  # noqa: E402
from support.servers import free_port  # noqa: E402

HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
CHECK_INTER_MS, FALL, RISE = 500, 2, 2
DOWN_BUDGET_S = (CHECK_INTER_MS * (FALL + 1)) / 1000 + 1.5  # FALL failed checks (+1 in flight) + slack
SERVICE = "/cds-services/all-order-sign"
WORKERS = int(os.environ.get("PROOF_WORKERS", "1"))  # gunicorn workers per instance


T0 = time.monotonic()


def say(message: str) -> None:
    print(f"proof: [{time.monotonic() - T0:5.1f}s] {message}", file=sys.stderr, flush=True)


# -- PostgreSQL ------------------------------------------------------------------------------------
@contextmanager
def postgres_server(stack_dir: Path) -> Iterator[str]:
    url = os.environ.get("CDSHOOKS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    env = {**os.environ, "CDSHOOKS_PG_STATE": str(stack_dir / "pg.state")}
    started = subprocess.run(["bash", str(REPO / "scripts" / "postgres-test.sh"), "start"], env=env,
                             capture_output=True, text=True, timeout=90)
    if started.returncode != 0:
        raise SystemExit(f"proof: cannot start PostgreSQL: {started.stderr.strip()[-300:]}")
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(REPO / "scripts" / "postgres-test.sh"), "stop"], env=env, capture_output=True, timeout=60)


@contextmanager
def proof_database(server_url: str) -> Iterator[str]:
    name = f"cdshooks_proof_{secrets.token_hex(4)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# -- HAProxy ---------------------------------------------------------------------------------------
def haproxy_config(lb_port: int, stats_port: int, ports: list[int]) -> str:
    servers = "\n".join(f"  server s{n} 127.0.0.1:{port} check" for n, port in enumerate(ports, 1))
    return f"""global
  maxconn 512
defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s
  # Retry only where the request never reached a server: a POST that did is never replayed.
  retries 3
  retry-on conn-failure
  option redispatch
frontend cds
  bind 127.0.0.1:{lb_port}
  default_backend cds
backend cds
  balance roundrobin
  option httpchk
  http-check send meth GET uri /health
  http-check expect status 200
  default-server inter {CHECK_INTER_MS}ms fastinter {CHECK_INTER_MS // 2}ms downinter {CHECK_INTER_MS}ms fall {FALL} rise {RISE}
{servers}
listen stats
  bind 127.0.0.1:{stats_port}
  stats enable
  stats uri /stats
"""


def server_states(stats_port: int) -> dict[str, str]:
    csv = requests.get(f"http://127.0.0.1:{stats_port}/stats;csv", timeout=2).text.splitlines()
    header = csv[0].lstrip("# ").split(",")
    name, status = header.index("svname"), header.index("status")
    return {row.split(",")[name]: row.split(",")[status] for row in csv[1:] if row.startswith("cds,s")}


def wait_state(stats_port: int, server: str, prefix: str, deadline_s: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < deadline_s:
        if server_states(stats_port).get(server, "").startswith(prefix):
            return time.monotonic() - start
        time.sleep(0.05)
    raise RuntimeError(f"{server} not {prefix} after {deadline_s:.1f}s: {server_states(stats_port)}")


# -- traffic ---------------------------------------------------------------------------------------
def post_feedback(lb: str, issuer: LocalIssuer, public: str, card: str) -> int:
    body = {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}]}
    token = issuer.token(public + SERVICE + "/feedback")
    try:
        return requests.post(lb + SERVICE + "/feedback", json=body, timeout=15,
                             headers={"Authorization": f"Bearer {token}"}).status_code
    except requests.RequestException:
        return 0


def feedback_rows(db_url: str) -> Counter[str]:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return Counter(r.card_uuid for r in conn.execute(select(feedback.c.card_uuid)))
    finally:
        engine.dispose()


def served(instance: Instance, route_suffix: str = "/feedback") -> int:
    count = 0
    for line in instance.log_text().splitlines():
        if '"event":"request"' in line and json.loads(line).get("route", "").endswith(route_suffix):
            count += 1
    return count


def replay(instances: list[Instance], issuer: LocalIssuer, public: str, rounds: int = 4) -> list[list[int]]:
    outcomes = []
    for _ in range(rounds):
        token, body = issuer.token(public + SERVICE), order_sign_request()
        barrier, statuses = threading.Barrier(len(instances)), []

        def send(instance: Instance) -> None:
            barrier.wait(10)
            answer = requests.post(instance.base + SERVICE, json=body, timeout=30,
                                   headers={"Authorization": f"Bearer {token}"})
            statuses.append(answer.status_code)

        threads = [threading.Thread(target=send, args=(i,)) for i in instances]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        outcomes.append(sorted(statuses))
    return outcomes


def run_load(lb: str, issuer: LocalIssuer, public: str, stop: threading.Event, results: list[tuple[str, int, float]],
             threads: int = 4) -> list[threading.Thread]:
    def worker() -> None:
        while not stop.is_set():
            card = f"proof-kill-{uuid.uuid4()}"
            status = post_feedback(lb, issuer, public, card)
            results.append((card, status, time.monotonic()))

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    return pool


# -- the proof -------------------------------------------------------------------------------------
def prove(work: Path, server_url: str, count: int = 3) -> dict[str, Any]:
    started = time.monotonic()
    checks: dict[str, bool] = {}
    summary: dict[str, Any] = {"instances": count, "checks": checks}
    with ExitStack() as stack:
        db_url = stack.enter_context(proof_database(server_url))
        upgrade = subprocess.run([CDSHOOKS, "db", "upgrade", "--database-url", db_url], capture_output=True, text=True, timeout=60)
        checks["db upgrade once, before the instances"] = upgrade.returncode == 0
        lb_port, stats_port = free_port(), free_port()
        lb, public = f"http://127.0.0.1:{lb_port}", f"http://127.0.0.1:{lb_port}"
        issuer = LocalIssuer(work / "issuers.json")
        key_file = work / "audit-key"
        key_file.write_text(secrets.token_hex(32))
        env = serve_env(work / "data", CDSHOOKS_DATABASE_URL=db_url, CDSHOOKS_AUDIT_KEY_FILE=str(key_file),
                        CDSHOOKS_TRUSTED_ISSUERS=str(issuer.issuers_file), CDSHOOKS_PUBLIC_BASE_URL=public,
                        CDSHOOKS_MIGRATE="never", CDSHOOKS_LOG_FORMAT="json", CDSHOOKS_GRACEFUL_TIMEOUT="5")
        instances: list[Instance] = []
        for n in range(count):
            (work / f"data{n}").mkdir()
            instances.append(start_serve({**env, "CDSHOOKS_DATA_DIR": str(work / f"data{n}")}, work / f"serve{n}.log", workers=WORKERS))
        stack.callback(lambda: [i.stop(timeout=15) for i in instances])
        for instance in instances:
            instance.wait_healthy(60)
        config = work / "haproxy.cfg"
        config.write_text(haproxy_config(lb_port, stats_port, [i.port for i in instances]))
        proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=subprocess.DEVNULL,
                                 stderr=open(work / "haproxy.log", "wb"), stdin=subprocess.DEVNULL)
        stack.callback(lambda: (proxy.terminate(), proxy.wait(10)))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if set(server_states(stats_port).values()) == {"UP"}:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        checks["haproxy sees every instance healthy"] = set(server_states(stats_port).values()) == {"UP"}
        say(f"{count} instances {[i.port for i in instances]} behind haproxy :{lb_port} ({time.monotonic() - started:.1f}s)")

        outcomes = replay(instances, issuer, public)
        summary["replay"] = outcomes
        say(f"replay: {outcomes}")
        checks["same token to every instance at once: exactly one 200"] = all(o == [200] + [401] * (count - 1) for o in outcomes)

        cards = [f"proof-fb-{n}-{uuid.uuid4()}" for n in range(48)]
        statuses: dict[str, int] = {}
        lock = threading.Lock()

        def send_all(chunk: list[str]) -> None:
            for card in chunk:
                status = post_feedback(lb, issuer, public, card)
                with lock:
                    statuses[card] = status

        senders = [threading.Thread(target=send_all, args=(cards[k::6],)) for k in range(6)]
        for t in senders:
            t.start()
        for t in senders:
            t.join(120)
        rows = feedback_rows(db_url)
        per_instance = [served(i) for i in instances]
        summary["feedback"] = {"sent": len(cards), "acked": sum(s == 200 for s in statuses.values()),
                               "rowsOnce": sum(rows[c] == 1 for c in cards), "perInstance": per_instance}
        checks["feedback through the balancer: every item acked and stored once"] = (
            all(statuses.get(c) == 200 for c in cards) and all(rows[c] == 1 for c in cards))
        checks["the balancer spread feedback over every instance"] = all(n > 0 for n in per_instance)
        say(f"feedback: {summary['feedback']}")

        stop, results = threading.Event(), []
        pool = run_load(lb, issuer, public, stop, results)
        time.sleep(1.5)
        victim = instances[1]
        killed_at = time.monotonic()
        victim.kill_all()
        detect = wait_state(stats_port, "s2", "DOWN", DOWN_BUDGET_S + 5)
        down_at = killed_at + detect
        time.sleep(2.0)
        stop.set()
        for t in pool:
            t.join(30)
        rows = feedback_rows(db_url)
        acked = [c for c, s, _ in results if s == 200]
        failed = [(c, s, t) for c, s, t in results if s != 200]
        summary["kill"] = {
            "requests": len(results), "acked": len(acked), "failed": len(failed),
            "failedAfterDown": sum(t > down_at for _, _, t in failed),
            "lostAcked": sum(rows[c] != 1 for c in acked), "duplicates": sum(n > 1 for n in rows.values()),
            "detectSeconds": round(detect, 2), "budgetSeconds": DOWN_BUDGET_S,
        }
        checks["SIGKILL: marked DOWN within the check budget"] = detect <= DOWN_BUDGET_S
        say(f"kill: {summary['kill']}")
        checks["SIGKILL: no acknowledged feedback lost, none stored twice"] = (
            summary["kill"]["lostAcked"] == 0 and summary["kill"]["duplicates"] == 0 and len(acked) > 0)
        checks["SIGKILL: only requests in flight at the kill failed"] = (
            summary["kill"]["failedAfterDown"] == 0 and len(failed) <= len(pool))

        restarted = start_serve({**env, "CDSHOOKS_DATA_DIR": str(work / "data1")}, work / "serve1-restarted.log",
                                port=victim.port, workers=WORKERS)
        instances[1] = restarted
        restarted.wait_healthy(60)
        rejoin = wait_state(stats_port, "s2", "UP", 15)
        after = [post_feedback(lb, issuer, public, f"proof-rejoin-{n}-{uuid.uuid4()}") for n in range(9)]
        summary["rejoin"] = {"upSecondsAfterHealthy": round(rejoin, 2), "statuses": after, "servedByRestarted": served(restarted)}
        checks["restarted instance rejoins and serves"] = all(s == 200 for s in after) and served(restarted) > 0
        say(f"rejoin: {summary['rejoin']}")
    say("stopped everything")
    summary["elapsedSeconds"] = round(time.monotonic() - started, 1)
    summary["ok"] = all(checks.values())
    return summary


def main() -> int:
    if HAPROXY is None:
        print("proof: haproxy not found (apt-get install haproxy)", file=sys.stderr)
        return 2
    import argparse

    parser = argparse.ArgumentParser(description="multi-instance proof (see the module docstring)")
    parser.add_argument("--instances", type=int, default=3, choices=range(2, 6), help="cdshooks serve instances (2-5)")
    count = parser.parse_args().instances
    with tempfile.TemporaryDirectory(prefix="cdshooks-proof-") as tmp:
        work = Path(tmp)
        with postgres_server(work) as server_url:
            summary = prove(work, server_url, count)
    print(json.dumps(summary, indent=2))
    for name, held in summary["checks"].items():
        say(("ok    " if held else "FAILED ") + name)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
