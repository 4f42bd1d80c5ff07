"""The multi-instance proof (scripts/multi_instance_proof.py) run by the suite: PostgreSQL, three
`cdshooks serve` and a real HAProxy on loopback. Required in CI (.ci/run sets
CDSHOOKS_REQUIRE_HAPROXY=1 and CDSHOOKS_REQUIRE_POSTGRES=1, so a skip there is a failure).

The script asserts nothing by itself that this test does not check again from its JSON summary.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "multi_instance_proof.py"
HAPROXY = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")


@pytest.mark.haproxy
@pytest.mark.postgres
def test_three_instances_behind_haproxy_on_one_postgresql() -> None:
    if HAPROXY is None:
        pytest.skip("the multi-instance proof needs haproxy (apt-get install haproxy)")
    if not os.environ.get("CDSHOOKS_TEST_POSTGRES_URL"):
        pytest.skip("the multi-instance proof needs CDSHOOKS_TEST_POSTGRES_URL (scripts/test.sh starts one)")
    run = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=240)
    assert run.stdout.strip(), run.stderr[-3000:]
    summary = json.loads(run.stdout)
    failed = [name for name, held in summary["checks"].items() if not held]
    assert not failed and run.returncode == 0, f"{failed}\n{run.stderr[-3000:]}"
    assert summary["instances"] == 3 and len(summary["checks"]) == 9
    assert summary["replay"] and all(o == [200, 401, 401] for o in summary["replay"])
    fb = summary["feedback"]
    assert fb["sent"] == fb["acked"] == fb["rowsOnce"] > 0 and all(n > 0 for n in fb["perInstance"])
    kill = summary["kill"]
    assert kill["acked"] > 0 and kill["lostAcked"] == 0 and kill["duplicates"] == 0 and kill["failedAfterDown"] == 0
    assert kill["detectSeconds"] <= kill["budgetSeconds"]
    assert all(s == 200 for s in summary["rejoin"]["statuses"]) and summary["rejoin"]["servedByRestarted"] > 0
