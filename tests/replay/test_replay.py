"""`cdshooks replay`: fixture folders against their goldens, a generated cohort against the faults
it was built with, the as-of timeline, the policy column, and the CLI's outputs and errors."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cdshooks.commands.replay import command as replay_command
from cdshooks.policy import policy_from_document
from cdshooks.policy.catalogue import is_known_rule, known_rule_ids
from cdshooks.replay.cohort import generate_cohort
from cdshooks.replay.engine import ReplayResult, replay
from cdshooks.replay.report import render_html, render_text, summarize
from cdshooks.replay.sources import REPLAYED_REQUESTS, PatientRecord, open_source
from cdshooks.replay.timeline import plan_calls

FIXTURES = Path(__file__).resolve().parents[2] / "fhir_fixtures"


def run(path: Path | str, **kwargs: Any) -> ReplayResult:
    src = open_source(path)
    return replay(enumerate(src.records, 1), source=str(path), kind=src.kind, **kwargs)


@pytest.fixture(scope="module")
def fixture_replay() -> ReplayResult:
    return run(FIXTURES, keep_calls=True)


def _ext(card: dict[str, Any]) -> dict[str, Any]:
    return card["extension"]["all-cds"]


def test_fixture_replay_counts_equal_the_goldens(fixture_replay: ReplayResult) -> None:
    """Per (topic, indicator, drug) over the topics each golden checks: replayed cards == golden cards."""
    folders = [d for d in sorted(FIXTURES.iterdir()) if (d / "bundle.json").is_file()]
    assert fixture_replay.patients == len(folders) and not fixture_replay.errors
    expected: Counter = Counter()
    replayed: Counter = Counter()
    orders = 0
    by_call = {(label, name): cards for label, name, cards in fixture_replay.calls or []}
    for d in folders:
        golden = json.loads((d / "expected.json").read_text())["requests"] if (d / "expected.json").exists() else {}
        for name in REPLAYED_REQUESTS:
            if not (d / name).exists():
                continue
            body = json.loads((d / name).read_text())
            if body["hook"] == "order-sign":
                orders += len(body["context"]["draftOrders"]["entry"])
            if name not in golden:
                continue
            checked = set(golden[name]["checkedTopics"])
            expected.update((c["topic"], c["indicator"], c.get("drug")) for c in golden[name]["cards"])
            replayed.update(
                (c["source"]["topic"]["code"], c["indicator"], _ext(c).get("drug") if any("drug" in g for g in golden[name]["cards"] if g["topic"] == c["source"]["topic"]["code"]) else None)
                for c in by_call[(d.name, name)] if c["source"]["topic"]["code"] in checked
            )
    assert sum(expected.values()) > 40
    assert replayed == expected
    assert fixture_replay.orders == orders


def test_tally_agrees_with_the_cards_and_the_catalogue(fixture_replay: ReplayResult, kb: Any) -> None:
    cards = [c for _, _, cs in fixture_replay.calls or [] for c in cs]
    per_rule = Counter(_ext(c)["ruleId"] for c in cards)
    tallied: Counter = Counter()
    for (_, rid), rt in fixture_replay.shipped.rules.items():
        tallied[rid] += rt.cards
    assert tallied == per_rule
    assert sum(fixture_replay.shipped.cards.values()) == len(cards)
    known = known_rule_ids(kb)
    unknown = sorted(rid for rid in per_rule if not is_known_rule(rid, known))
    assert not unknown, f"rule ids missing from cdshooks/policy/catalogue.py: {unknown}"
    summary = summarize(fixture_replay)
    assert summary["overall"]["asShipped"]["orderSignCards"] == fixture_replay.shipped.cards["order-sign"]
    text = render_text(summary)
    assert all(r["ruleId"][:44] in text for r in summary["rules"])


def test_fixture_replay_is_stable(fixture_replay: ReplayResult) -> None:
    again = summarize(run(FIXTURES))
    first = summarize(fixture_replay)
    for s in (again, first):
        s.pop("seconds")
    assert again == first


# -- generated cohort ---------------------------------------------------------------------------

FAULT_RULES = {  # fault the generator injects -> the rule ids that must find it (one card each)
    "vincristine-uncapped": ("dose-limit.vincristine.per-dose-cap",),
    "vincristine-intrathecal": ("route.vincristine.iv-only",),
    "methotrexate-daily": ("schedule.methotrexate.oral-weekly",),
    "daunorubicin-high": ("dose.daunorubicin.adult", "dose.daunorubicin.pediatric-bsa", "dose.daunorubicin.child-under-2",
                          "dose.daunorubicin.child-small-bsa"),
}


def test_generated_cohort_finds_exactly_the_injected_faults(tmp_path: Path) -> None:
    bundles = generate_cohort(tmp_path / "b", 5, seed=2, fault_scale=10)
    ndjson = generate_cohort(tmp_path / "n", 5, seed=2, fault_scale=10, fmt="ndjson")
    assert bundles.as_json() == ndjson.as_json()
    assert all(bundles.faults[f] > 0 for f in FAULT_RULES), bundles.faults
    a, b = run(tmp_path / "b"), run(tmp_path / "n")
    assert (a.kind, b.kind) == ("bundles", "ndjson")
    sa, sb = summarize(a), summarize(b)
    for s in (sa, sb):
        for key in ("seconds", "source", "kind"):
            s.pop(key)
    assert sa == sb  # the same record, read two ways, gives the same calls
    assert a.patients == 5 and a.orders == bundles.orders and a.shipped.calls["order-sign"] == bundles.orders and not a.errors
    cards = {rid: rt.cards for (_, rid), rt in a.shipped.rules.items()}
    for fault, rules in FAULT_RULES.items():
        assert sum(cards.get(r, 0) for r in rules) == bundles.faults[fault], (fault, cards)
    clean = generate_cohort(tmp_path / "clean", 3, seed=2, fault_scale=0)
    assert not clean.faults
    clean_cards = {rid for (_, rid), rt in run(tmp_path / "clean").shipped.rules.items()}
    assert not clean_cards & {r for rules in FAULT_RULES.values() for r in rules}


def test_cohort_is_deterministic(tmp_path: Path) -> None:
    generate_cohort(tmp_path / "x", 3, seed=5)
    generate_cohort(tmp_path / "y", 3, seed=5)
    generate_cohort(tmp_path / "z", 3, seed=6)
    files = sorted(p.name for p in (tmp_path / "x").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "y").iterdir())
    assert all((tmp_path / "x" / f).read_bytes() == (tmp_path / "y" / f).read_bytes() for f in files)
    assert any((tmp_path / "x" / f).read_bytes() != (tmp_path / "z" / f).read_bytes() for f in files)


# -- the timeline -------------------------------------------------------------------------------


def _order(oid: str, when: str, status: str = "completed") -> dict[str, Any]:
    return {"resourceType": "MedicationRequest", "id": oid, "status": status, "intent": "order", "subject": {"reference": "Patient/p"},
            "medicationCodeableConcept": {"text": "vincristine"}, "authoredOn": when}


def test_each_order_sees_the_record_as_it_stood_that_day() -> None:
    lab = lambda oid, when: {"resourceType": "Observation", "id": oid, "status": "final", "subject": {"reference": "Patient/p"},  # noqa: E731
                             "code": {"text": "x"}, "category": [{"coding": [{"code": "laboratory"}]}], "effectiveDateTime": when}
    record = PatientRecord("t", [
        {"resourceType": "Patient", "id": "p", "birthDate": "2018-01-01"},
        _order("late", "2026-03-10"), _order("early", "2026-03-01T09:00:00Z", "draft"),
        lab("same-day", "2026-03-01"), lab("before", "2026-02-28T07:00:00Z"), lab("after", "2026-03-02T07:00:00Z"),
        lab("bad-date", "not a date"),
    ])
    calls = list(plan_calls(record))
    assert [c.hook for c in calls] == ["order-sign", "order-sign", "patient-view"]
    first, second, view = calls
    assert first.now.isoformat() == "2026-03-01T09:00:00+00:00" and second.now.date().isoformat() == "2026-03-10"
    drafts = lambda c: [e["resource"]["id"] for e in c.body["context"]["draftOrders"]["entry"]]  # noqa: E731
    assert drafts(first) == ["early"] and drafts(second) == ["late"]
    labs = lambda c: sorted(e["resource"]["id"] for e in c.body["prefetch"]["observations"]["entry"])  # noqa: E731
    assert labs(first) == ["bad-date", "before", "same-day"]  # unreadable dates stay: the checks report them
    assert labs(second) == ["after", "bad-date", "before", "same-day"]
    history = [e["resource"] for e in second.body["prefetch"]["medications"]["entry"]] if "medications" in second.body["prefetch"] else []
    assert all(r["status"] != "draft" for r in history)
    assert view.now == second.now and view.orders == 0


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_text_json_policy_and_errors(tmp_path: Path) -> None:
    generate_cohort(tmp_path / "c", 2, seed=1, fault_scale=10)
    runner = CliRunner()
    shipped = runner.invoke(replay_command, [str(tmp_path / "c"), "--json", "--quiet"])
    assert shipped.exit_code == 0, shipped.output
    data = json.loads(shipped.output)
    cap = next(r for r in data["rules"] if r["ruleId"] == "dose-limit.vincristine.per-dose-cap")
    assert cap["withPolicy"] is None and cap["asShipped"]["indicators"]["critical"] == cap["asShipped"]["cards"] > 0

    policy = tmp_path / "p.yaml"
    policy.write_text("version: preview-1\nrules:\n  regimen.induction.no-intrathecal: silent\n  dose-limit.vincristine: info\n")
    previewed = runner.invoke(replay_command, [str(tmp_path / "c"), "--json", "--quiet", "--policy", str(policy), "--html", str(tmp_path / "r.html")])
    assert previewed.exit_code == 0, previewed.output
    both = json.loads(previewed.output)
    assert both["sitePolicy"] == "preview-1"
    rows = {r["ruleId"]: r for r in both["rules"]}
    it = rows["regimen.induction.no-intrathecal"]
    assert it["withPolicy"]["cards"] == 0 and both["overall"]["withPolicy"]["silenced"] == it["asShipped"]["cards"] > 0
    guarded = rows["dose-limit.vincristine.per-dose-cap"]["withPolicy"]["indicators"]  # critical -> never below warning
    assert guarded == {"critical": 0, "warning": cap["asShipped"]["cards"], "info": 0}
    html = (tmp_path / "r.html").read_text()
    assert "with policy" in html and "preview-1" in html and "<script" not in html and "src=" not in html and "href=" not in html

    text = runner.invoke(replay_command, [str(tmp_path / "c"), "--policy", str(policy)])
    assert text.exit_code == 0 and "as shipped  with policy" in text.stdout and "replay: 2/2 patients" in text.stderr

    for args, message in (([str(tmp_path / "nope")], "no such file or directory"),
                          ([str(tmp_path / "c"), "--policy", str(tmp_path / "missing.yaml")], "cannot read")):
        failed = runner.invoke(replay_command, args)
        assert failed.exit_code == 2 and message in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.invoke(replay_command, [str(empty)]).exit_code == 2


def test_html_is_self_contained(fixture_replay: ReplayResult) -> None:
    page = render_html(summarize(fixture_replay))
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page
    for external in ("<link", "<script", "src=", "url("):
        assert external not in page
