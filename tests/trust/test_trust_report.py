"""Override-rate report: the numbers from Store.override_report and the `cdshooks feedback report` CLI.

Scenario (all feedback received inside the window):
  rule dose.vincristine.cap (topic dose-limit): cards c1, c2, c3 issued; c1 overridden, c2 overridden,
      c3 accepted -> 2/3 overridden = 66.7 %
  rule ddi.methotrexate.ppi (topic interaction): cards d1, d2 issued; d1 accepted first, then
      overridden later (latest outcome wins, counted once); d2 never answered -> 1/1 = 100 %, issued 2
  rule risk.nci (topic risk-group): r1 accepted -> 0 %
  feedback for "ghost" (never issued) -> the separate unissued row, not in any rule
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from cdshooks.commands.feedback import command
from cdshooks.protocol.auth import Caller
from cdshooks.store import Store

CALLER = Caller("https://ehr.example.org", "t", "j")
SERVICE = "all-order-sign"


def card(uuid: str, rule: str, topic: str) -> dict:
    return {"uuid": uuid, "indicator": "warning", "source": {"label": "x", "topic": {"system": "urn:all-cds:card-topic", "code": topic}},
            "extension": {"all-cds": {"ruleId": rule}}}


def item(uuid: str, outcome: str, at: str = "2026-03-01T10:00:00Z") -> dict:
    extra = {"acceptedSuggestions": [{"id": f"{uuid}-s"}]} if outcome == "accepted" else {}
    return {"card": uuid, "outcome": outcome, "outcomeTimestamp": at, **extra}


def populate(store: Store) -> None:
    store.record_cards(hook_instance="h1", service_id=SERVICE, caller=CALLER, patient_id="p", knowledge_version="1",
                       cards=[card("c1", "dose.vincristine.cap", "dose-limit"), card("c2", "dose.vincristine.cap", "dose-limit"),
                              card("c3", "dose.vincristine.cap", "dose-limit"), card("d1", "ddi.methotrexate.ppi", "interaction"),
                              card("d2", "ddi.methotrexate.ppi", "interaction"), card("r1", "risk.nci", "risk-group")])
    store.record_feedback(service_id=SERVICE, caller=CALLER, items=[
        item("c1", "overridden"), item("c2", "overridden"), item("c3", "accepted"),
        item("d1", "overridden", "2026-03-01T10:05:00Z"), item("r1", "accepted"), item("ghost", "overridden"),
    ])
    # sent later but timestamped earlier: d1's latest outcome stays "overridden"
    store.record_feedback(service_id=SERVICE, caller=CALLER, items=[item("d1", "accepted", "2026-03-01T10:01:00Z")])


EXPECTED = [
    {"group": "rule", "key": "ddi.methotrexate.ppi", "issued": 2, "accepted": 0, "overridden": 1, "override_rate": 1.0},
    {"group": "rule", "key": "dose.vincristine.cap", "issued": 3, "accepted": 1, "overridden": 2, "override_rate": 2 / 3},
    {"group": "rule", "key": "risk.nci", "issued": 1, "accepted": 1, "overridden": 0, "override_rate": 0.0},
    {"group": "topic", "key": "dose-limit", "issued": 3, "accepted": 1, "overridden": 2, "override_rate": 2 / 3},
    {"group": "topic", "key": "interaction", "issued": 2, "accepted": 0, "overridden": 1, "override_rate": 1.0},
    {"group": "topic", "key": "risk-group", "issued": 1, "accepted": 1, "overridden": 0, "override_rate": 0.0},
    {"group": "unissued", "key": "*", "issued": 0, "accepted": 0, "overridden": 1, "override_rate": 1.0},
]


def window() -> tuple[datetime, datetime]:
    now = datetime.now(timezone.utc)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def test_override_rates_per_rule_and_topic(store: Store) -> None:
    populate(store)
    assert store.override_report(*window()) == EXPECTED


def test_window_is_half_open_on_received_time(store: Store) -> None:
    before = datetime.now(timezone.utc)
    store.record_cards(hook_instance="h", service_id=SERVICE, caller=CALLER, patient_id=None, knowledge_version="1",
                       cards=[card("a", "rule.a", "dose")])
    store.record_feedback(service_id=SERVICE, caller=CALLER, items=[item("a", "overridden")])
    time.sleep(0.02)
    middle = datetime.now(timezone.utc)
    time.sleep(0.02)
    store.record_feedback(service_id=SERVICE, caller=CALLER, items=[item("a", "accepted", "2026-03-02T00:00:00Z")])
    after = datetime.now(timezone.utc) + timedelta(seconds=1)
    first = {r["key"]: r for r in store.override_report(before, middle)}
    assert (first["rule.a"]["overridden"], first["rule.a"]["accepted"], first["rule.a"]["issued"]) == (1, 0, 1)
    second = {r["key"]: r for r in store.override_report(middle, after)}
    assert (second["rule.a"]["overridden"], second["rule.a"]["accepted"], second["rule.a"]["issued"]) == (0, 1, 0)
    assert store.override_report(after, after + timedelta(days=1)) == []
    assert store.override_report(before - timedelta(days=1), before) == []


def test_issued_cards_without_feedback_have_no_rate(store: Store) -> None:
    store.record_cards(hook_instance="h", service_id=SERVICE, caller=CALLER, patient_id=None, knowledge_version="1",
                       cards=[card("q", "rule.quiet", "schedule")])
    assert store.override_report(*window()) == [
        {"group": "rule", "key": "rule.quiet", "issued": 1, "accepted": 0, "overridden": 0, "override_rate": None},
        {"group": "topic", "key": "schedule", "issued": 1, "accepted": 0, "overridden": 0, "override_rate": None},
    ]


def test_cli_json_and_tables(store: Store, database_url: str) -> None:
    populate(store)
    since, until = window()
    runner = CliRunner()
    result = runner.invoke(command, ["report", "--database-url", database_url, "--since", since.isoformat(),
                                     "--until", until.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == EXPECTED
    result = runner.invoke(command, ["report", "--database-url", database_url, "--since", since.isoformat(),
                                     "--until", until.isoformat()], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "Override rate per rule" in result.output and "Override rate per topic" in result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") >= 6}
    assert "66.7%" in lines["dose.vincristine.cap"] and "100.0%" in lines["ddi.methotrexate.ppi"]
    assert "0.0%" in lines["risk-group"]
    assert "1 card(s) we never issued" in result.output


@pytest.mark.parametrize("args", [["--since", "yesterday"], ["--since", "2026-02-01", "--until", "2026-01-01"]])
def test_cli_refuses_bad_periods(args: list[str], tmp_path) -> None:
    result = CliRunner().invoke(command, ["report", "--database-url", f"sqlite:///{tmp_path / 'x.db'}", *args])
    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_cli_defaults_to_the_settings_database(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDSHOOKS_DATA_DIR", str(tmp_path / "var"))
    result = CliRunner().invoke(command, ["report", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == []
    assert (tmp_path / "var" / "cdshooks.sqlite3").exists()
