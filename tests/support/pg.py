"""A second, throwaway PostgreSQL a test can stop and start (scripts/postgres-test.sh starts the
shared one; this one is private to the test, so stopping it harms nobody)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from support.servers import free_port


def _bin() -> Path | None:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: [int(p) if p.isdigit() else p for p in d.split("/")])
    return Path(dirs[-1]) if dirs else None


def pg_available() -> bool:
    return _bin() is not None


class ThrowawayPostgres:
    """initdb + pg_ctl on a free loopback port; `stop()` / `start()` / `restart()` keep the data."""

    def __init__(self) -> None:
        self.bin = _bin()
        assert self.bin is not None
        # in the system temp dir, like scripts/postgres-test.sh: pytest's tmp_path is root-only (0700)
        # and PostgreSQL refuses to run as root, so its owner must be able to reach the directory
        self.root = Path(tempfile.mkdtemp(prefix="cdshooks-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.owner = os.environ.get("USER", "")
        if os.geteuid() == 0:
            self.owner = "postgres" if _user_exists("postgres") else "nobody"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://cdshooks@127.0.0.1:{self.port}/cdshooks_test"

    def _run(self, *argv: str) -> None:
        cmd = list(argv)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", self.owner, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip() or result.stdout.strip()}")

    def __enter__(self) -> "ThrowawayPostgres":
        self.root.chmod(0o700)
        if os.geteuid() == 0:
            shutil.chown(self.root, self.owner)
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "cdshooks", "--auth=trust", "-E", "UTF8", "--no-locale")
        self.start()
        self._run(str(self.bin / "createdb"), "-h", str(self.root), "-p", str(self.port), "-U", "cdshooks", "cdshooks_test")
        return self

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t", "30",
                  "-o", f"-h 127.0.0.1 -p {self.port} -k {self.root}", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def sql(self, statement: str) -> None:
        self._run(str(self.bin / "psql"), "-h", str(self.root), "-p", str(self.port), "-U", "cdshooks", "-d", "postgres", "-c", statement)

    def __exit__(self, *exc: Any) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
