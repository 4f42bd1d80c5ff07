"""Override analytics: /metrics counters by rule and reason, and `feedback report` by rule, topic,
reason and week with review candidates (share and minimum configurable), JSON and one-line errors.

Scenario for the report (feedback all received now; outcome timestamps in two ISO weeks):
  rule.noisy  (topic interaction): 5 cards, 5 overridden (4 benefit-outweighs-risk, 1 not-applicable)
  rule.mixed  (topic dose):        4 cards, 3 overridden (no reason), 1 accepted
  rule.rare   (topic route):       1 card, 1 overridden  -> 100 % but too few to flag
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cdshooks.cards.overrides import OVERRIDE_SYSTEM
from cdshooks.commands.feedback import command
from cdshooks.protocol.auth import Caller
from cdshooks.store import Store

CALLER = Caller("https://ehr.example.org", "t", "j")
SERVICE = "all-order-sign"
FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def card(uuid: str, rule: str, topic: str) -> dict:
    return {"uuid": uuid, "indicator": "warning", "source": {"label": "x", "topic": {"system": "urn:all-cds:card-topic", "code": topic}},
            "extension": {"all-cds": {"ruleId": rule}}}


def item(uuid: str, outcome: str, at: str, reason: str | None = None, system: str = OVERRIDE_SYSTEM) -> dict:
    out: dict[str, Any] = {"card": uuid, "outcome": outcome, "outcomeTimestamp": at}
    if reason:
        out["overrideReason"] = {"reason": {"system": system, "code": reason, "display": reason.replace("-", " ")}}
    if outcome == "accepted":
        out["acceptedSuggestions"] = [{"id": f"{uuid}-s"}]
    return out


W1, W2 = "2026-03-02T10:00:00Z", "2026-03-10T10:00:00Z"  # ISO weeks 2026-W10 and 2026-W11


def populate(store: Store) -> None:
    cards = [card(f"n{i}", "rule.noisy", "interaction") for i in range(5)] + [card(f"m{i}", "rule.mixed", "dose") for i in range(4)]
    store.record_cards(hook_instance="h", service_id=SERVICE, caller=CALLER, patient_id="p", knowledge_version="1",
                       cards=cards + [card("r0", "rule.rare", "route")])
    store.record_feedback(service_id=SERVICE, caller=CALLER, items=[
        *(item(f"n{i}", "overridden", W1 if i < 2 else W2, "benefit-outweighs-risk") for i in range(4)),
        item("n4", "overridden", W2, "not-applicable"),
        *(item(f"m{i}", "overridden", W1) for i in range(3)), item("m3", "accepted", W2),
        item("r0", "overridden", W2, "site-code", system="urn:example:other"),
    ])


def report(database_url: str, *args: str) -> Any:
    now = datetime.now(timezone.utc)
    return CliRunner().invoke(command, ["report", "--database-url", database_url, "--since", (now - timedelta(hours=1)).isoformat(),
                                        "--until", (now + timedelta(hours=1)).isoformat(), *args])


def test_report_by_reason_week_and_review(store: Store, database_url: str) -> None:
    populate(store)
    result = report(database_url, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [(r["key"], r["overridden"]) for r in data["reasons"]] == [
        ("benefit-outweighs-risk", 4), ("(none)", 3), ("not-applicable", 1), ("urn:example:other|site-code", 1)]
    assert sum(r["share"] for r in data["reasons"]) == pytest.approx(1.0)
    noisy = [r for r in data["ruleReasons"] if r["rule"] == "rule.noisy"]
    assert [(r["reason"], r["overridden"], r["share"]) for r in noisy] == [("benefit-outweighs-risk", 4, 0.8), ("not-applicable", 1, 0.2)]
    weeks = {w["key"]: w for w in data["weeks"]}
    assert (weeks["2026-W10"]["overridden"], weeks["2026-W10"]["accepted"]) == (5, 0)
    assert (weeks["2026-W11"]["overridden"], weeks["2026-W11"]["accepted"]) == (4, 1)
    assert data["review"] == {"share": 0.9, "minCards": 20, "candidates": []}  # defaults: nothing has 20 answers yet

    flagged = json.loads(report(database_url, "--json", "--review-min-cards", "4").output)["review"]["candidates"]
    assert [c["rule"] for c in flagged] == ["rule.noisy"]  # 5/5 > 90 %; rule.rare has 1 answer; rule.mixed 75 %
    lower = json.loads(report(database_url, "--json", "--review-min-cards", "4", "--review-share", "0.75").output)["review"]["candidates"]
    assert [c["rule"] for c in lower] == ["rule.noisy"]  # 75 % is not MORE than 75 %
    one = json.loads(report(database_url, "--json", "--review-min-cards", "1", "--review-share", "0.7").output)["review"]["candidates"]
    assert [c["rule"] for c in one] == ["rule.noisy", "rule.rare", "rule.mixed"]

    text = report(database_url, "--review-min-cards", "4")
    assert text.exit_code == 0
    noisy_line = next(line for line in text.output.splitlines() if line.startswith("│ rule.noisy"))
    assert "REVIEW" in noisy_line and "benefit-outweighs-risk (80.0%)" in noisy_line
    assert "Override reasons" in text.output and "Override rate per week" in text.output
    assert re.search(r"rule\.noisy: 5/5 overridden \(100\.0%\)", text.output)


@pytest.mark.parametrize("args,message", [
    (["--since", "last tuesday"], "Invalid value for --since"),
    (["--since", "2026-02-01", "--until", "2026-01-01"], "--since must be before --until"),
    (["--review-share", "1.5"], "Invalid value"),
])
def test_errors_are_one_line_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(command, ["report", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", *args])
    assert result.exit_code == 2 and message in result.stderr
    if "--review-share" not in args:  # click's own range check keeps its usage hint
        assert len(result.stderr.strip().splitlines()) == 1


def test_unreadable_database_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    result = CliRunner().invoke(command, ["report", "--database-url", f"sqlite:///{tmp_path / 'file' / 'x.db'}"])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("cdshooks: feedback report: ")


# -- /metrics ---------------------------------------------------------------------------------------


def metric(text: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith("cdshooks_feedback_total{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_outcomes_by_rule_and_reason(make_app: Any) -> None:
    app = make_app()
    client = app.test_client()
    body = json.loads((FIXTURES / "dose.vincristine.adult-2.76mg-over-cap" / "request-order-sign.json").read_text())
    cards = client.post("/cds-services/all-order-sign", json=body).get_json()["cards"]
    cap = next(c for c in cards if c["source"]["topic"]["code"] == "dose-limit")
    rule = cap["extension"]["all-cds"]["ruleId"]
    before = client.get("/metrics").get_data(as_text=True)
    feedback = {"feedback": [
        item(cap["uuid"], "overridden", W1, "dose-capped-per-protocol"),
        item(cap["uuid"], "overridden", W2, "made-up", system="urn:example:other"),
        item("never-issued", "overridden", W2, "not-applicable"),
    ]}
    assert client.post("/cds-services/all-order-sign/feedback", json=feedback).status_code == 200
    after = client.get("/metrics").get_data(as_text=True)
    for labels, delta in (
        (dict(service=SERVICE, rule=rule, outcome="overridden", reason="dose-capped-per-protocol"), 1),
        (dict(service=SERVICE, rule=rule, outcome="overridden", reason="unlisted"), 1),
        (dict(service=SERVICE, rule="(unissued)", outcome="overridden", reason="not-applicable"), 1),
    ):
        assert metric(after, **labels) - metric(before, **labels) == delta, labels
    assert "made-up" not in after  # foreign codes never become label values
