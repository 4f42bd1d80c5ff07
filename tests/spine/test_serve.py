"""`cdshooks serve` as an operator runs it: gunicorn, health, metrics, loud dev mode, bad config."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from support.requests import order_sign_request
from support.servers import free_port

CDSHOOKS = shutil.which("cdshooks", path=str(Path(sys.executable).parent)) or "cdshooks"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env.update(CDSHOOKS_DATA_DIR=str(tmp_path / "var"), **extra)
    return env


def _wait_health(base: str, proc: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited early: {proc.stderr.read() if proc.stderr else ''}")
        try:
            r = requests.get(base + "/health", timeout=1)
            if r.status_code == 200:
                return r.json()
        except (requests.ConnectionError, requests.Timeout):  # booting workers on a loaded machine
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become healthy")


def test_serve_dev_runs_gunicorn_with_health_metrics_and_a_loud_warning(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [CDSHOOKS, "serve", "--dev", "--port", str(port), "--workers", "2"],
        env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        health = _wait_health(base, proc)
        assert health["status"] == "ok" and health["auth"] == "disabled" and health["knowledge"]
        for _ in range(4):  # spread over both workers
            r = requests.post(base + "/cds-services/all-order-sign", json=order_sign_request(), timeout=10)
            assert r.status_code == 200
        metrics = requests.get(base + "/metrics", timeout=5)
        assert metrics.status_code == 200
        line = next(l for l in metrics.text.splitlines() if l.startswith("cdshooks_requests_total{") and 'service="all-order-sign"' in l)
        assert float(line.rsplit(" ", 1)[1]) == 4.0  # aggregated across gunicorn workers
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "AUTH DISABLED" in err
    assert "gunicorn" in err.lower() or "Booting worker" in err


def test_serve_refuses_bad_configuration_with_one_line(tmp_path):
    result = subprocess.run(
        [CDSHOOKS, "serve", "--port", str(free_port())],
        env=_env(tmp_path, CDSHOOKS_TRUSTED_ISSUERS=str(tmp_path / "missing.json")),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "CDSHOOKS_TRUSTED_ISSUERS" in result.stderr


def test_serve_dev_refuses_a_non_loopback_bind(tmp_path):
    result = subprocess.run(
        [CDSHOOKS, "serve", "--dev", "--host", "0.0.0.0", "--port", str(free_port())],
        env=_env(tmp_path), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "loopback" in result.stderr


def test_auth_disabled_by_environment_on_public_bind_is_refused(tmp_path):
    result = subprocess.run(
        [CDSHOOKS, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        env=_env(tmp_path, CDSHOOKS_AUTH="disabled"), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "loopback" in result.stderr
