"""`cdshooks regimen check/show` run as the user runs them: a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from cdshooks.knowledge import DATA_DIR
from support.regimens import site_template, write_site_dir

CDSHOOKS = shutil.which("cdshooks", path=str(Path(sys.executable).parent)) or "cdshooks"


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    return subprocess.run([CDSHOOKS, "regimen", *args], env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_check_valid_shipped_and_site_templates(tmp_path):
    result = run("check", str(DATA_DIR / "regimens" / "hyper-cvad.json"))
    assert result.returncode == 0, result.stdout + result.stderr
    site = write_site_dir(tmp_path / "site")
    result = run("check", str(site / "site-vcr-dex.json"))
    assert result.returncode == 0 and result.stdout.strip().endswith(": ok")


def test_check_reports_each_problem_on_its_own_line(tmp_path):
    bad = site_template()
    bad["phases"][0]["items"][0]["drug"] = "vincristin"
    bad["phases"][0]["items"][1]["days"] = [1, 20]
    bad["phases"][1]["courses"] = [1]
    path = write_site_dir(tmp_path / "site", bad) / "site-vcr-dex.json"
    result = run("check", str(path))
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3, lines
    assert any("vincristin" in ln and "drugs.json" in ln for ln in lines)
    assert any("day 20" in ln for ln in lines) and any("course 1" in ln for ln in lines)
    assert all(ln.startswith(str(path)) for ln in lines)


def test_check_schema_problems_and_unreadable_files(tmp_path):
    path = write_site_dir(tmp_path / "site", site_template(tolerance_pct=-1, status="maybe")) / "site-vcr-dex.json"
    result = run("check", str(path))
    assert result.returncode == 1 and len(result.stdout.strip().splitlines()) == 2
    assert "$.status" in result.stdout and "$.tolerance_pct" in result.stdout
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = run("check", str(broken))
    assert result.returncode == 2 and "not valid JSON" in result.stderr and result.stderr.count("\n") == 1
    result = run("check", str(tmp_path / "absent.json"))
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_show_prints_text_and_json(tmp_path):
    result = run("show", "hyper-cvad")
    assert result.returncode == 0
    assert "doi:10.1200/JCO.2000.18.3.547" in result.stdout
    assert "day 4, 11: vincristine 2 mg intravenous" in result.stdout
    assert "[UNVERIFIED]  (hyper-cvad.a.methotrexate-it)" in result.stdout
    result = run("show", "hyper-cvad", "--json")
    body = json.loads(result.stdout)
    assert body["origin"] == "packaged" and body["template"]["source"]["doi"] == "10.1200/JCO.2000.18.3.547"


def test_show_reads_the_configured_site_directory(tmp_path):
    site = write_site_dir(tmp_path / "site")
    assert run("show", "site-vcr-dex").returncode == 2
    result = run("show", "site-vcr-dex", "--json", CDSHOOKS_REGIMEN_DIR=str(site))
    assert result.returncode == 0 and json.loads(result.stdout)["origin"].endswith("site-vcr-dex.json")
    result = run("show", "nope")
    assert result.returncode == 2 and "hyper-cvad" in result.stderr
