"""Site policy: every level, the never-raise ceiling, the critical guard, start-up refusal,
`cdshooks policy check`, and the policy version on the card and in the audit row."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cdshooks.commands.policy import command as policy_command
from cdshooks.config import settings_from_env
from cdshooks.errors import ConfigError
from cdshooks.policy import PolicyError, SitePolicy, apply_policy, load_policy, policy_from_document
from cdshooks.policy.catalogue import known_rule_ids
from cdshooks.rules.finding import Finding
from cdshooks.store.tables import card_audit

CDSHOOKS = shutil.which("cdshooks", path=str(Path(sys.executable).parent)) or "cdshooks"
FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def finding(rule_id: str = "dose.vincristine.cap", topic: str = "dose-limit", indicator: str = "warning") -> Finding:
    return Finding(rule_id=rule_id, topic=topic, indicator=indicator, summary="s", detail="d", citation="c")


def policy(**doc: Any) -> SitePolicy:
    return policy_from_document({"version": "t1", **doc})


@pytest.mark.parametrize(
    "level,shipped,shown",
    [
        ("as-shipped", "warning", "warning"),
        ("as-shipped", "critical", "critical"),
        ("info", "warning", "info"),
        ("info", "info", "info"),
        ("warning", "critical", "warning"),
        ("warning", "info", "info"),  # a ceiling never raises
        ("warning", "warning", "warning"),
        ("off", "warning", None),
        ("silent", "info", None),
    ],
)
def test_each_level(level: str, shipped: str, shown: str | None) -> None:
    out = apply_policy([finding(indicator=shipped)], policy(rules={"dose.vincristine.cap": level}))
    assert [f.indicator for f in out.shown] == ([shown] if shown else [])
    assert len(out.silenced) == (1 if level == "silent" else 0)
    if shown and shown != shipped:
        assert out.shown[0].inputs["shippedIndicator"] == shipped


def test_no_level_raises_anything_to_critical() -> None:
    for level in ("off", "silent", "info", "warning", "as-shipped"):
        for shipped in ("info", "warning"):
            out = apply_policy([finding(indicator=shipped)], policy(topics={"dose-limit": level}))
            assert all(f.indicator != "critical" for f in out.shown)
    with pytest.raises(PolicyError):
        load_policy_doc({"version": "x", "rules": {"risk.group": "critical"}})


def load_policy_doc(doc: dict, tmp: Path | None = None) -> SitePolicy:
    import tempfile

    path = Path(tempfile.mkdtemp()) / "p.json"
    path.write_text(json.dumps(doc))
    return load_policy(path)


@pytest.mark.parametrize("level", ["off", "silent", "info"])
def test_critical_is_never_lowered_below_warning_without_an_allowance(level: str) -> None:
    crit = finding(indicator="critical")
    guarded = apply_policy([crit], policy(rules={"dose.vincristine": level}))
    assert [f.indicator for f in guarded.shown] == ["warning"] and not guarded.silenced
    allowed = apply_policy(
        [crit],
        policy(rules={"dose.vincristine": level}, allow_downgrade_critical=[{"rule": "dose.vincristine.cap", "reason": "site caps in pharmacy"}]),
    )
    assert [f.indicator for f in allowed.shown] == (["info"] if level == "info" else [])
    assert len(allowed.silenced) == (1 if level == "silent" else 0)
    by_topic = apply_policy([crit], policy(topics={"dose-limit": level}, allow_downgrade_critical=[{"topic": "dose-limit", "reason": "reviewed 2026"}]))
    assert [f.indicator for f in by_topic.shown] == (["info"] if level == "info" else [])
    other_rule = apply_policy([crit], policy(rules={"dose.vincristine": level}, allow_downgrade_critical=[{"rule": "dose.other", "reason": "not this one"}]))
    assert [f.indicator for f in other_rule.shown] == ["warning"]


def test_most_specific_entry_wins_then_topic() -> None:
    p = policy(rules={"dose": "info", "dose.vincristine.cap": "as-shipped"}, topics={"dose-limit": "off", "route": "silent"})
    assert p.level_for(finding()) == "as-shipped"
    assert p.level_for(finding("dose.vincristine.bsa", "dose")) == "info"
    assert p.level_for(finding("dose-x.y", "dose-limit")) == "off"  # "dose" is not a dot-prefix of "dose-x"
    assert p.level_for(finding("route.vincristine.iv-only", "route")) == "silent"


def test_disabled_rules_are_applied_in_the_same_place() -> None:
    out = apply_policy([finding(), finding("route.x", "route")], None, frozenset({"route.x"}))
    assert [f.rule_id for f in out.shown] == ["dose.vincristine.cap"]


def test_yaml_bare_off_means_off(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: '2026.1'\nrules:\n  interaction.DDI-32: off\ntopics:\n  monitoring: {level: off, reason: noisy}\n")
    p = load_policy(path)
    assert p.rules == {"interaction.DDI-32": "off"} and p.topics == {"monitoring": "off"}


def test_catalogue_knows_shipped_ids(kb: Any) -> None:
    known = known_rule_ids(kb)
    assert {"risk.group", "route.vincristine.iv-only", "interaction.DDI-32", "population.SP-04"} <= known


# -- the CLI --------------------------------------------------------------------------------------


def run_check(path: Path) -> Any:
    return CliRunner().invoke(policy_command, ["check", str(path)])


def test_policy_check_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("version: v1\nrules:\n  route.vincristine.iv-only: info\nallow_downgrade_critical:\n  - {rule: route.vincristine.iv-only, reason: checked by pharmacy double sign}\n")
    result = run_check(good)
    assert result.exit_code == 0 and "ok, site policy v1" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "v1", "rules": {"dose.vincristin": "off", "risk.group": "critical"}, "topics": {"nope": "info"},
                               "allow_downgrade_critical": [{"topic": "monitoring", "reason": "short"}]}))
    result = run_check(bad)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1
    assert len(lines) == 2 and all(line.startswith(f"{bad}: $.") for line in lines), lines  # schema problems first
    bad.write_text(json.dumps({"version": "v1", "rules": {"dose.vincristin": "off"}, "topics": {"nope": "info"},
                               "allow_downgrade_critical": [{"topic": "monitoring", "reason": "reviewed at P&T"}]}))
    result = run_check(bad)
    assert result.exit_code == 1
    assert sorted(line.split(": ", 1)[1] for line in result.output.strip().splitlines()) == sorted([
        "$.topics.nope: unknown topic",
        "$.rules.dose.vincristin: unknown rule id",
        "$.allow_downgrade_critical[0]: no topics entry lowers monitoring below warning, so this allowance does nothing",
    ])
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: [unclosed\n")
    result = run_check(broken)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert run_check(tmp_path / "missing.yaml").exit_code == 2


def test_start_up_refuses_unknown_ids_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("version: v1\nrules:\n  dose.no-such-rule: off\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDSHOOKS_")}
    env.update(CDSHOOKS_POLICY=str(path), CDSHOOKS_DATA_DIR=str(tmp_path / "var"), CDSHOOKS_AUTH="disabled")
    proc = subprocess.run([CDSHOOKS, "serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [f"cdshooks: CDSHOOKS_POLICY: {path}: $.rules.dose.no-such-rule: unknown rule id"]
    path.write_text("version: v1\ntopics:\n  nope: off\n")
    with pytest.raises(ConfigError, match=r"CDSHOOKS_POLICY: .*\$\.topics\.nope: unknown topic"):
        settings_from_env({"CDSHOOKS_POLICY": str(path)})


# -- end to end: label and audit -------------------------------------------------------------------


def post(client: Any, fixture: str, name: str = "request-order-sign.json") -> list[dict]:
    body = json.loads((FIXTURES / fixture / name).read_text())
    response = client.post("/cds-services/all-order-sign", json=body)
    assert response.status_code == 200, response.text
    return response.get_json()["cards"]


def test_policy_version_on_cards_and_in_the_audit(make_app: Any, tmp_path: Path) -> None:
    fixture = "dose.vincristine.adult-2.76mg-over-cap"
    shipped = post(make_app().test_client(), fixture)
    assert [(c["source"]["topic"]["code"], c["indicator"]) for c in shipped if c["source"]["topic"]["code"] == "dose-limit"] == [("dose-limit", "critical")]
    assert "site policy" not in shipped[0]["source"]["label"]

    silent = policy(version="site-7", topics={"dose-limit": "silent"}, allow_downgrade_critical=[{"topic": "dose-limit", "reason": "pharmacy verifies every cap"}])
    app = make_app(policy=silent, data_dir=tmp_path / "v1")
    cards = post(app.test_client(), fixture)
    assert not any(c["source"]["topic"]["code"] == "dose-limit" for c in cards)
    assert all(c["source"]["label"].endswith("· site policy site-7") for c in cards)
    with app.extensions["cdshooks"].store.engine.begin() as conn:
        rows = conn.execute(select(card_audit.c.card_uuid, card_audit.c.topic, card_audit.c.indicator, card_audit.c.policy_version, card_audit.c.policy_action)).all()
    silenced = [r for r in rows if r.policy_action == "silent"]
    assert [(r.card_uuid, r.topic, r.indicator, r.policy_version) for r in silenced] == [(None, "dose-limit", "critical", "site-7")]
    assert all(r.policy_version == "site-7" for r in rows)

    guarded = make_app(policy=policy(version="site-8", topics={"dose-limit": "off"}), data_dir=tmp_path / "v2")
    cards = [c for c in post(guarded.test_client(), fixture) if c["source"]["topic"]["code"] == "dose-limit"]
    assert [c["indicator"] for c in cards] == ["warning"]  # no allowance: the critical stays a warning
    assert cards[0]["extension"]["all-cds"]["inputs"]["shippedIndicator"] == "critical"
    with guarded.extensions["cdshooks"].store.engine.begin() as conn:
        actions = conn.execute(select(card_audit.c.topic, card_audit.c.policy_action)).all()
    assert ("dose-limit", "lowered") in [tuple(a) for a in actions]


def test_readme_example_policy_is_valid(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```yaml\nversion:", 1)[1].split("```", 1)[0]
    path = tmp_path / "site-policy.yaml"
    path.write_text("version:" + example)
    result = run_check(path)
    assert result.exit_code == 0, result.output
    p = load_policy(path)
    assert p.version == "2026-12-a" and p.rules["regimen.blinatumomab.lineage"] == "info" and p.allowances
