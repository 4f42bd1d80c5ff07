"""Cross-process guarantees, with real separate Python processes.

* Replay: two worker processes verify the same tokens against one database; each jti is accepted
  by exactly one of them (the replay cache is the database, not process memory).
* Durability: a process writes feedback through Store and is SIGKILLed the instant the call
  returns; on reopening, every row is there (commit happens before record_feedback returns).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from sqlalchemy import func, select

from cdshooks.store import Store
from cdshooks.store.tables import feedback
from trust_helpers import ISS, NOW, SERVICE_URL, KeyPair, claims, mint

REPO = Path(__file__).resolve().parents[2]

WORKER = textwrap.dedent(
    """
    import json, sys, time
    import requests
    from cdshooks.config import Settings, TrustedIssuer
    from cdshooks.errors import Unauthorized
    from cdshooks.protocol.auth import JwtVerifier
    from cdshooks.store import Store

    url, jwks, tokens_file, go_file, now, aud = sys.argv[1:7]
    settings = Settings(trusted_issuers=(TrustedIssuer(iss=%r, jwks=json.loads(jwks)),))
    verifier = JwtVerifier(settings, Store(url), requests.Session(), clock=lambda: float(now))
    tokens = json.load(open(tokens_file))
    print("ready", flush=True)
    while not __import__("os").path.exists(go_file):
        time.sleep(0.005)
    accepted = []
    for token in tokens:
        try:
            accepted.append(verifier.verify("Bearer " + token, aud).jti)
        except Unauthorized:
            pass
    print(json.dumps(accepted), flush=True)
    """
    % ISS
)


def _migrate(url: str) -> None:
    store = Store(url)
    store.migrate()
    store.close()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def test_each_jti_is_accepted_by_exactly_one_of_two_processes(
    database_url: str, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    """database_url runs this on SQLite (WAL + busy timeout) and on PostgreSQL when configured."""
    _migrate(database_url)
    pair = keys["ES384"]
    tokens = [mint(pair, claims(jti=f"jti-{n}-{uuid.uuid4()}")) for n in range(60)]
    tokens_file = tmp_path / "tokens.json"
    tokens_file.write_text(json.dumps(tokens))
    go = tmp_path / "go"
    args = [database_url, json.dumps({"keys": [pair.public_jwk]}), str(tokens_file), str(go), str(NOW), SERVICE_URL]
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=_env(), cwd=tmp_path)
        for _ in range(2)
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()  # both start verifying the same 60 tokens at once
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    first, second = set(results[0]), set(results[1])
    assert not first & second, "a jti was accepted twice: replay across workers"
    assert len(first | second) == 60, "every token is accepted once"


DURABILITY_CHILD = textwrap.dedent(
    """
    import sys, time
    from cdshooks.protocol.auth import Caller
    from cdshooks.store import Store

    store = Store(sys.argv[1])
    items = [{"card": "card-%d" % n, "outcome": "overridden", "outcomeTimestamp": "2026-03-01T10:00:00Z"}
             for n in range(int(sys.argv[2]))]
    count = store.record_feedback(service_id="all-order-sign", items=items, caller=Caller("iss", None, "j"))
    sys.stdout.write("stored %d\\n" % count)
    sys.stdout.flush()
    while True:        # keep the connection and process alive until the parent kills us
        time.sleep(1)
    """
)


def test_sigkill_right_after_record_feedback_loses_nothing(database_url: str) -> None:
    _migrate(database_url)
    for round_ in range(3):
        child = subprocess.Popen([sys.executable, "-c", DURABILITY_CHILD, database_url, "7"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
        assert child.stdout is not None
        line = child.stdout.readline()
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert line.strip() == "stored 7", child.stderr.read() if child.stderr else ""
        assert child.returncode == -signal.SIGKILL
        reopened = Store(database_url)
        with reopened.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(feedback)).scalar_one() == 7 * (round_ + 1)
        reopened.close()
