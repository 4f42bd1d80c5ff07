"""The CI guards guard: CDSHOOKS_REQUIRE_* survive test isolation and turn skips into failures.

Each case runs a real pytest subprocess over one of our own tests, in the situation CI must never
accept silently (PostgreSQL required but absent; the team reference directory required but absent).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pytest_run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, cwd=ROOT, env={**base, **env}, timeout=300)


@pytest.mark.parametrize("required", ["1", ""])
def test_require_postgres_turns_the_skip_into_a_failure(required: str) -> None:
    result = pytest_run("tests/trust/test_trust_feedback.py", "-m", "postgres", CDSHOOKS_REQUIRE_POSTGRES=required)
    if required:
        assert result.returncode == 1 and "skipped but CDSHOOKS_REQUIRE_POSTGRES=1" in result.stdout, result.stdout[-2000:]
    else:
        assert result.returncode == 0 and re.search(r"\d+ skipped", result.stdout), result.stdout[-2000:]


def test_require_shared_turns_a_missing_reference_directory_into_a_failure(tmp_path: Path) -> None:
    result = pytest_run("tests/knowledge/test_drugs_codes.py", "-k", "match_the_seed",
                        CDSHOOKS_REQUIRE_SHARED="1", CDSHOOKS_SHARED_DIR=str(tmp_path / "absent"))
    assert result.returncode == 1 and "skipped but CDSHOOKS_REQUIRE_SHARED=1" in result.stdout, result.stdout[-2000:]


def test_no_test_names_a_path_outside_the_repository() -> None:
    """Outside paths only through configuration (CDSHOOKS_SHARED_DIR, CDSHOOKS_TEST_POSTGRES_URL)."""
    offenders = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in sorted((ROOT / "tests").rglob("*.py")) if p.name != Path(__file__).name
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"""["'](/work/|\.\./shared)""", line)
    ]
    assert not offenders, offenders
