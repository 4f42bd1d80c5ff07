"""Bad configuration is one line on stderr and exit 2, in every case (issue 11). Each test runs
`cdshooks serve` as a subprocess, as an operator would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from support.servers import free_port

CDSHOOKS = shutil.which("cdshooks", path=str(Path(sys.executable).parent)) or "cdshooks"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env["CDSHOOKS_DATA_DIR"] = str(tmp_path / "var")
    env.update(extra)
    return env


def _refused(tmp_path: Path, *args: str, **env: str) -> str:
    result = subprocess.run([CDSHOOKS, "serve", "--port", str(free_port()), *args], env=_env(tmp_path, **env),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    assert lines[0].startswith("cdshooks: ")
    return lines[0]


def _issuers(tmp_path: Path, issuers: list[dict[str, Any]]) -> str:
    path = tmp_path / "issuers.json"
    path.write_text(json.dumps(issuers))
    return str(path)


@pytest.mark.parametrize("name, env, expected", [
    ("non-integer workers", {"CDSHOOKS_WORKERS": "two"}, "CDSHOOKS_WORKERS"),
    ("zero workers", {"CDSHOOKS_WORKERS": "0"}, "CDSHOOKS_WORKERS"),
    ("unknown log level", {"CDSHOOKS_LOG_LEVEL": "LOUD"}, "CDSHOOKS_LOG_LEVEL"),
    ("unreachable PostgreSQL", {"CDSHOOKS_DATABASE_URL": "postgresql+psycopg://cdshooks@127.0.0.1:9/x?connect_timeout=2",
                                "CDSHOOKS_AUDIT_KEY": "k" * 32}, "CDSHOOKS_DATABASE_URL"),
    ("unknown disabled rule", {"CDSHOOKS_DISABLED_RULES": "dose.vincristine.adult-bsa,no-such.rule"}, "no-such.rule"),
])
def test_bad_environment_is_one_line_and_exit_2(tmp_path: Path, name: str, env: dict[str, str], expected: str) -> None:
    assert expected in _refused(tmp_path, "--dev", **env), name


def test_a_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    line = _refused(tmp_path, "--dev", CDSHOOKS_DATA_DIR=str(blocker / "var"))
    assert "CDSHOOKS_DATA_DIR" in line


def test_an_issuer_with_an_empty_key_set(tmp_path: Path) -> None:
    path = _issuers(tmp_path, [{"iss": "https://ehr.example.org", "jwks": {"keys": []}}])
    line = _refused(tmp_path, CDSHOOKS_TRUSTED_ISSUERS=path)
    assert "no usable key" in line


def test_port_in_use_exits_2_and_keeps_the_running_instance_metrics(tmp_path: Path) -> None:
    """A second start on a busy port fails fast and leaves the first instance's metrics dir alone."""
    port = free_port()
    first = subprocess.Popen([CDSHOOKS, "serve", "--dev", "--port", str(port), "--workers", "1"], env=_env(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(base + "/health", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer on a loaded machine
                time.sleep(0.2)
        assert requests.get(base + "/cds-services", timeout=5).status_code == 200
        metrics_dir = tmp_path / "var" / "prometheus"
        before = sorted(p.name for p in metrics_dir.iterdir())
        assert before  # the running worker's metric files
        second = subprocess.run([CDSHOOKS, "serve", "--dev", "--port", str(port)], env=_env(tmp_path),
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip().count("\n") == 0 and str(port) in second.stderr
        assert sorted(p.name for p in metrics_dir.iterdir()) == before
        assert requests.get(base + "/health", timeout=5).status_code == 200
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)


def test_auth_required_without_issuers_starts_with_a_loud_warning_and_answers_401(tmp_path: Path) -> None:
    """Chosen: start (a locked-down instance is safe, and the contract documents it) but say so."""
    port = free_port()
    proc = subprocess.Popen([CDSHOOKS, "serve", "--port", str(port), "--workers", "1"], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                status = requests.get(base + "/health", timeout=1).status_code
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or slow to answer on a loaded machine
                time.sleep(0.2)
        assert status == 200
        r = requests.get(base + "/cds-services", timeout=5)
        assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "NO TRUSTED ISSUERS" in err and "401" in err


def test_port_probe_sees_a_plain_listener(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = subprocess.run([CDSHOOKS, "serve", "--dev", "--port", str(port)], env=_env(tmp_path),
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "cannot listen" in result.stderr
    assert not (tmp_path / "var" / "prometheus").exists()
