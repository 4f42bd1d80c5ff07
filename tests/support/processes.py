"""`cdshooks serve` as a real child process (gunicorn and all), and a signing EHR for it.

Used by the operator-facing tests: JSON request logs, SIGTERM drain, and the multi-instance proof
behind HAProxy. Each instance writes stderr to a file, so a test can read its log lines and a full
pipe can never stall the server.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from .servers import free_port

CDSHOOKS = shutil.which("cdshooks", path=str(Path(sys.executable).parent)) or "cdshooks"
ISS = "https://ehr.proof.example"


@dataclass
class LocalIssuer:
    """A real EC P-384 key, its trusted-issuers file, and freshly timed tokens (real clock)."""

    issuers_file: Path
    private: Any = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    kid: str = "proof-ec384"
    fhir_servers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        jwk = {**ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True), "kid": self.kid, "alg": "ES384", "use": "sig"}
        entry = {"iss": ISS, "jwks": {"keys": [jwk]}, "fhir_servers": list(self.fhir_servers)}
        self.issuers_file.write_text(json.dumps([entry]))

    def token(self, aud: str, **claims: Any) -> str:
        now = int(time.time())
        payload = {"iss": ISS, "aud": aud, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()), **claims}
        return jwt.encode(payload, self.private, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})


@dataclass
class Instance:
    proc: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_healthy(self, timeout: float = 45) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"cdshooks serve exited {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                answer = requests.get(self.base + "/health", timeout=1)
                if answer.status_code == 200:
                    return answer.json()
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError(f"cdshooks serve on {self.port} never became healthy: {self.log_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def kill_all(self) -> None:
        """SIGKILL the whole process group (master and workers): no drain, no goodbye."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)


def serve_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The developer's environment minus every CDSHOOKS_* setting, plus a private data dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env.update(CDSHOOKS_DATA_DIR=str(data_dir), **extra)
    return env


def start_serve(env: dict[str, str], log_path: Path, *, port: int | None = None, workers: int = 1) -> Instance:
    port = port or free_port()
    with open(log_path, "ab") as log:
        # its own session: kill_all() takes the gunicorn master and its workers down together, as
        # a node failure or an OOM-killed pod would
        proc = subprocess.Popen([CDSHOOKS, "serve", "--port", str(port), "--workers", str(workers)],
                                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    return Instance(proc, port, log_path)
