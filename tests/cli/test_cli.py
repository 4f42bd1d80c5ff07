"""The `cdshooks` console script, driven as a user would: real subprocesses, real server, real JWT."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fhir_fixtures"
CLI = [str(Path(sys.executable).with_name("cdshooks"))]  # the installed console script
IT_VCR = FIXTURES / "route.vincristine.intrathecal"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env={**base, **(env or {})})


def test_help_everywhere() -> None:
    for sub in ([], ["check"], ["send"], ["validate"], ["keys"], ["keys", "new"], ["knowledge"], ["knowledge", "show"]):
        result = run(*sub, "--help")
        assert result.returncode == 0 and "Usage:" in result.stdout, (sub, result.stderr)


def test_keys_new_writes_0600_key_jwks_and_issuers(tmp_path: Path) -> None:
    out = tmp_path / "keys"
    result = run("keys", "new", "--dir", str(out), "--iss", "https://ehr.test", "--fhir-server", "http://127.0.0.1:9/fhir")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((out / "private-key.pem").stat().st_mode) == 0o600
    jwks = json.loads((out / "jwks.json").read_text())
    assert jwks["keys"][0]["kid"] and "d" not in jwks["keys"][0] and jwks["keys"][0]["alg"] == "ES384"
    issuers = json.loads((out / "trusted-issuers.json").read_text())
    assert issuers == [{"iss": "https://ehr.test", "jwks": jwks, "fhir_servers": ["http://127.0.0.1:9/fhir"]}]
    again = run("keys", "new", "--dir", str(out))
    assert again.returncode == 2 and "exists" in again.stderr


def test_knowledge_show_success_and_unknown_drug() -> None:
    ok = run("knowledge", "show", "vincristine", "--json")
    assert ok.returncode == 0, ok.stderr
    rows = json.loads(ok.stdout)["rows"]
    assert rows and all("vincristine" in json.dumps(r) for r in rows)
    bad = run("knowledge", "show", "no-such-drug")
    assert bad.returncode == 2 and "no-such-drug" in bad.stderr


def test_validate_clean_fixture_and_gaps_and_bad_path(tmp_path: Path) -> None:
    ok = run("validate", str(IT_VCR))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # a fixture's declared gap (expected.json expectedGaps) is listed, but does not fail...
    declared = run("validate", str(FIXTURES / "missing.weight.vincristine"))
    assert declared.returncode == 0 and "expected gap" in declared.stdout and "no body weight" in declared.stdout, declared.stdout
    # ...the same bundle on its own (no expected.json beside it) does
    lone = tmp_path / "lone" / "bundle.json"
    lone.parent.mkdir()
    lone.write_text((FIXTURES / "missing.weight.vincristine" / "bundle.json").read_text())
    gaps = run("validate", str(lone))
    assert gaps.returncode == 1 and "no body weight" in gaps.stdout, gaps.stdout
    broken = tmp_path / "bundle.json"
    bundle = json.loads((IT_VCR / "bundle.json").read_text())
    bundle["entry"][0]["resource"]["birthDate"] = "not-a-date"
    broken.write_text(json.dumps(bundle))
    invalid = run("validate", str(broken))
    assert invalid.returncode == 1 and "invalid" in invalid.stdout
    missing = run("validate", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    assert run("validate", str(IT_VCR), "--as-of", "yesterday").returncode == 2


def test_validate_passes_every_shipped_fixture() -> None:
    result = run("validate", "-q", "fhir_fixtures")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert " 0 with problems" in result.stdout


def test_validate_judges_by_hook_and_order_date(tmp_path: Path) -> None:
    """Freshness is judged at the draft order date, not today; patient-view needs no weight."""
    src = json.loads((IT_VCR / "bundle.json").read_text())
    no_drafts = dict(src, entry=[e for e in src["entry"] if e["resource"].get("status") != "draft"
                                  and e["resource"]["resourceType"] != "Observation"])
    (tmp_path / "view").mkdir()
    (tmp_path / "view" / "bundle.json").write_text(json.dumps(no_drafts))
    view = run("validate", str(tmp_path / "view" / "bundle.json"), "--json")
    report = json.loads(view.stdout)["reports"][0]
    assert view.returncode == 0 and report["hook"] == "patient-view" and report["gaps"] == [], view.stdout
    sign = run("validate", str(IT_VCR / "request-order-sign.json"), "--json")
    report = json.loads(sign.stdout)["reports"][0]
    assert (report["hook"], report["asOf"], report["asOfSource"]) == ("order-sign", "2026-11-02", "draft order date")
    # the same order authored 45 days after the weight: stale, whatever today is
    later = src["entry"]
    for e in later:
        if e["resource"].get("status") == "draft":
            e["resource"]["authoredOn"] = "2026-12-15"
    (tmp_path / "late").mkdir()
    (tmp_path / "late" / "bundle.json").write_text(json.dumps(src))
    late = run("validate", str(tmp_path / "late" / "bundle.json"))
    assert late.returncode == 1 and "within 30 days before the order date 2026-12-15" in late.stdout, late.stdout


def test_check_fixture_and_bad_input(tmp_path: Path) -> None:
    result = run("check", str(IT_VCR), "--json")
    assert result.returncode in (0, 1), result.stderr
    cards = json.loads(result.stdout)["cards"]
    route = [c for c in cards if c["source"]["topic"]["code"] == "route"]
    assert [c["indicator"] for c in route] == ["critical"], cards
    assert result.returncode == 1
    junk = tmp_path / "x.json"
    junk.write_text("[1, 2]")
    bad = run("check", str(junk))
    assert bad.returncode == 2 and "neither" in bad.stderr


@pytest.fixture
def running_server(tmp_path: Path):
    keys = tmp_path / "keys"
    made = run("keys", "new", "--dir", str(keys), "--iss", "https://ehr.test")
    assert made.returncode == 0, made.stderr
    port = free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env = {**base, "CDSHOOKS_TRUSTED_ISSUERS": str(keys / "trusted-issuers.json"), "CDSHOOKS_DATA_DIR": str(tmp_path / "var"), "CDSHOOKS_WORKERS": "1"}
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"cdshooks serve exited {proc.returncode}: {proc.stdout.read()[-2000:]}")
            try:
                if requests.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            pytest.fail("cdshooks serve did not answer /health within 30 s")
        yield url, keys
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_send_signed_request_to_running_server(running_server) -> None:
    url, keys = running_server
    service = f"{url}/cds-services/all-order-sign"
    sent = run("send", service, str(IT_VCR), "--key", str(keys / "private-key.pem"), "--iss", "https://ehr.test", "--json")
    assert sent.returncode == 1, sent.stderr
    cards = json.loads(sent.stdout)["cards"]
    assert [c["indicator"] for c in cards if c["source"]["topic"]["code"] == "route"] == ["critical"]
    unsigned = run("send", service, str(IT_VCR))
    assert unsigned.returncode == 2 and "401" in unsigned.stderr
    wrong_iss = run("send", service, str(IT_VCR), "--key", str(keys / "private-key.pem"), "--iss", "https://other.test")
    assert wrong_iss.returncode == 2 and "401" in wrong_iss.stderr


def test_check_runs_a_noprefetch_request_on_an_embedded_fhir_server(tmp_path: Path) -> None:
    with_prefetch = run("check", str(IT_VCR / "request-order-sign.json"), "--json")
    fetched = run("check", str(IT_VCR / "request-order-sign-noprefetch.json"), "--json")
    assert fetched.returncode == with_prefetch.returncode == 1, fetched.stderr
    rules = lambda out: sorted(c["extension"]["all-cds"]["ruleId"] for c in json.loads(out)["cards"])  # noqa: E731
    assert rules(fetched.stdout) == rules(with_prefetch.stdout) and "missing-data.prefetch" not in rules(fetched.stdout)
    lone = tmp_path / "request.json"  # no bundle beside it: nothing to serve, one line, rc 2
    lone.write_text((IT_VCR / "request-order-sign-noprefetch.json").read_text())
    refused = run("check", str(lone))
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1 and "no prefetch" in refused.stderr


def test_check_all_compares_every_request_with_its_golden(tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "fixtures"
    names = ("route.vincristine.intrathecal", "missing.weight.vincristine")
    for name in names:
        shutil.copytree(FIXTURES / name, root / name)
    good = run("check", "--all", str(root), "--json")
    report = json.loads(good.stdout)
    assert good.returncode == 0 and report["failed"] == 0, good.stdout[-3000:]
    assert report["requests"] == sum(len(json.loads((root / n / "expected.json").read_text())["requests"]) for n in names)
    assert any(not r["prefetch"] for r in report["results"])  # the no-prefetch requests ran too
    # a golden that promises a card the service does not give: reported, rc 1, in the table too
    expected = json.loads((root / "route.vincristine.intrathecal" / "expected.json").read_text())
    expected["requests"]["request-order-sign-noprefetch.json"]["cards"][0]["indicator"] = "info"
    (root / "route.vincristine.intrathecal" / "expected.json").write_text(json.dumps(expected))
    bad = run("check", "--all", str(root))
    assert bad.returncode == 1 and "MISSING" in bad.stdout and "1 differ" in bad.stdout, bad.stdout[-3000:]


def one_line_error(result: subprocess.CompletedProcess[str], rc: int = 2) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == rc and len(lines) == 1 and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    return lines[0]


def test_errors_are_one_line_with_the_documented_exit_code(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("x")
    assert "Not a directory" in one_line_error(run("keys", "new", "--dir", str(regular / "keys")))
    dead_port = free_port()  # nothing listens there
    pg = one_line_error(run("feedback", "report", "--database-url", f"postgresql+psycopg://cds:s3cret@127.0.0.1:{dead_port}/cds"))
    assert "Connection refused" in pg and "s3cret" not in pg and "***" in pg
    sent = one_line_error(run("send", f"http://127.0.0.1:{dead_port}/cds-services/all-order-sign", str(IT_VCR)))
    assert "Connection refused" in sent and "ConnectionError" not in sent


def test_piped_output_never_wraps_so_grep_finds_whole_rule_ids() -> None:
    shown = run("knowledge", "show", "vincristine")
    ids = {r["id"] for r in json.loads(run("knowledge", "show", "vincristine", "--json").stdout)["rows"]}
    assert shown.returncode == 0 and len(ids) > 10, shown.stderr
    folded = {i for i in ids if not any(f" {i} " in line for line in shown.stdout.splitlines())}
    assert not folded, f"rule ids folded across lines: {sorted(folded)}"
    table = run("check", str(IT_VCR))
    assert any("route.vincristine.iv-only" in line and "fatal if given by other routes" in line for line in table.stdout.splitlines()), table.stdout
