"""Plan checks beyond the goldens: a site template from the configured directory over HTTP (its
own tolerance), the day past a course, missing BSA, unverified rows never silence the label."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from cdshooks.cards.merge import merge_missing_data
from cdshooks.context.builder import build_context
from cdshooks.fixtures import build_request
from cdshooks.knowledge import default_knowledge
from cdshooks.rules.plan import evaluate
from support.rendered import rendered
from cdshooks.rules.registry import RuleSettings, run_rules
from support.regimens import write_site_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fhir_fixtures"))
from fixture_model import DAILY, ONCE, ORDER, WEEKLY, Order, Scenario, born, build_bundle  # noqa: E402

ADULT = dict(birth=born(40), sex="male", weight=(80.0, "kg"), height=(175.0, "cm"))
CHILD = dict(birth=born(8), weight=(26.0, "kg"), height=(128.0, "cm"))  # BSA 0.9615 m2
SITE = "https://hospital.example/fhir/PlanDefinition/site-vcr-dex"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def start(day: int) -> str:
    return (ORDER - timedelta(days=day - 1)).isoformat()


def scenario(careplan, orders, base=ADULT, **extra) -> Scenario:
    return Scenario("plan.unit", "unit", "test", **base, phase=None, careplan=careplan, orders=orders, **extra)


def findings(s: Scenario, kb=None):
    request = build_request(build_bundle(s), "order-sign")
    kb = kb or default_knowledge()
    ctx = build_context(request["prefetch"], patient_id=request["context"]["patientId"], draft_orders=request["context"]["draftOrders"],
                        selections=None, kb=kb, now=NOW)
    # merged as the service merges them (cards.merge: whether two problems share a card is wording)
    return ctx, rendered(merge_missing_data(run_rules(ctx, kb, RuleSettings(), ("missing-data", "dose", "schedule", "regimen"))))  # with the card text


def ids(found) -> list[str]:
    return sorted(f.rule_id for f in found if f.topic in ("dose", "dose-limit", "schedule", "regimen", "missing-data"))


def test_clean_orders_are_matches_and_silent():
    ctx, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(4)}},
                                   [Order("doxorubicin", 99.0, "mg", "iv", ONCE), Order("vincristine", 2.0, "mg", "iv", ONCE)]))
    assert ctx.plan.usable and ctx.plan.day == 4
    assert [v.kind for v in evaluate(ctx, default_knowledge(), RuleSettings())] == ["match", "match"]
    assert ids(found) == []


def test_day_past_the_course_is_missing_data_naming_the_field():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(30)}}, [Order("doxorubicin", 99.0, "mg", "iv", ONCE)]))
    plan = [f for f in found if f.rule_id == "missing-data.plan"]
    assert len(plan) == 1 and "past the 21 days of Course A" in plan[0].summary + plan[0].detail and "CarePlan.period.start" in plan[0].detail


def test_missing_height_is_missing_data_never_a_pass():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(4)}}, [Order("doxorubicin", 99.0, "mg", "iv", ONCE)],
                                 base={**ADULT, "height": None}))
    md = [f for f in found if f.topic == "missing-data"]
    assert md and "missing-data.plan-dose" in (md[0].inputs.get("mergedRuleIds") or [md[0].rule_id])


def test_unverified_row_is_soft_and_does_not_silence_the_label():
    # hyper-CVAD POMP methotrexate is UNVERIFIED: plan card is a warning and the label card stays
    _, found = findings(scenario({"title": "Hyper-CVAD maintenance (POMP)", "period": {"start": start(8)}},
                                 [Order("methotrexate-oral", 60.0, "mg", "po", WEEKLY)]))
    by_id = {f.rule_id: f for f in found}
    assert by_id["plan.dose.hyper-cvad.m.methotrexate"].indicator == "warning"  # +54%, but unverified
    assert "dose.methotrexate.oral-weekly" in by_id


def test_verified_row_silences_only_the_label_range_not_the_cap():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(4)}}, [Order("vincristine", 3.0, "mg", "iv", ONCE)]))
    assert ids(found) == ["dose-limit.vincristine.per-dose-cap", "plan.dose.hyper-cvad.a.vincristine"]
    plan = next(f for f in found if f.rule_id == "plan.dose.hyper-cvad.a.vincristine")
    assert plan.indicator == "critical" and plan.inputs["deviation_pct"] == 50.0


def test_already_given_yields_to_the_label_interval_card():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(4)}}, [Order("vincristine", 2.0, "mg", "iv", ONCE)],
                                 administrations=[("vincristine", ORDER, 2.0, "mg", "iv")]))
    assert [i for i in ids(found) if "vincristine" in i] == ["schedule.vincristine.weekly"]


def test_given_this_course_is_shown():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(2)}}, [Order("cyclophosphamide", 592.0, "mg", "iv", {"frequency": 2, "period": 1, "periodUnit": "d"})],
                                 administrations=[(("cyclophosphamide"), ORDER - timedelta(days=1), 592.0, "mg", "iv"), ("cyclophosphamide", ORDER, 592.0, "mg", "iv"),
                                                  ("cyclophosphamide", ORDER, 592.0, "mg", "iv")]))
    card = next(f for f in found if f.rule_id == "plan.already-given.hyper-cvad.a.cyclophosphamide")
    assert card.detail.count("2026-11-02 592 mg") == 2 and "2026-11-01 592 mg" in card.detail


def _site_body(dex_mg: float, block: int, canonical: str = SITE) -> dict:
    s = Scenario("plan.site", "site", "test", **CHILD, phase=None, orders=[Order("dexamethasone", dex_mg, "mg", "po", DAILY)],
                 careplan={"instantiatesCanonical": [canonical], "title": f"Block {block}", "period": {"start": start(3)}})
    return build_request(build_bundle(s), "order-sign")


def _cards(base: str, body: dict) -> list[tuple[str, str]]:
    """(rule id, indicator) of dose/regimen/missing-data cards; a merged missing-data card counts once per rule."""
    response = requests.post(f"{base}/cds-services/all-order-sign", json=body, timeout=30)
    assert response.status_code == 200, response.text
    out = []
    for c in response.json()["cards"]:
        ext = c["extension"]["all-cds"]
        if c["source"]["topic"]["code"] not in ("dose", "missing-data", "regimen"):
            continue
        for rule_id in ext["inputs"].get("mergedRuleIds") or [ext["ruleId"]]:
            if rule_id != "missing-data.phase":  # a child's RA-xx checks want a phase name
                out.append((rule_id, c["indicator"] if rule_id == ext["ruleId"] else "merged"))
    return sorted(out)


def test_site_template_from_the_configured_directory(tmp_path, live_service):
    site = write_site_dir(tmp_path / "site")
    with live_service(regimen_dir=site) as base:
        # block 2 day 3: dexamethasone 10 mg/m2 x 0.9615 = 9.6 mg; the site's tolerance is 5%
        assert _cards(base, _site_body(10.0, 2)) == []  # +4.2%
        assert _cards(base, _site_body(10.2, 2)) == [("plan.dose.site-vcr-dex.b2.dexamethasone", "warning")]  # +6.3%
        assert _cards(base, _site_body(5.8, 2)) == [("plan.other-phase.site-vcr-dex.b1.dexamethasone", "warning")]  # the block 1 dose
    with live_service() as base:  # the same CarePlan without the site's template: say so, fall back to the label
        assert _cards(base, _site_body(10.0, 2)) == [("missing-data.plan", "merged")]


@pytest.mark.parametrize("title", ["Hyper-CVAD", "ALL Induction"])
def test_no_plan_card_without_chemotherapy_orders(title):
    _, found = findings(scenario({"title": title, "period": {"start": start(1)}}, [Order("allopurinol", 300.0, "mg", "po", DAILY)]))
    assert not [f for f in found if "plan" in f.rule_id]


def test_a_daily_total_ordered_as_one_dose_is_named():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(1)}}, [Order("cyclophosphamide", 1184.0, "mg", "iv", DAILY)]))
    card = next(f for f in found if f.rule_id == "plan.dose.hyper-cvad.a.cyclophosphamide")
    assert card.indicator == "critical" and "day's total of 2 doses" in card.detail
    assert "Planned that day: cyclophosphamide 300 mg/m² intravenous; dexamethasone 40 mg oral/intravenous" in card.detail


def test_the_plan_gives_the_phase_the_regimen_checks_read():
    ctx, _ = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(1)}}, [Order("doxorubicin", 99.0, "mg", "iv", ONCE)]))
    assert ctx.phase == "induction" and ctx.phase_source.startswith("CarePlan/")


def test_a_chemotherapy_drug_outside_the_regimen_is_not_in_plan_whatever_its_unit():
    _, found = findings(scenario({"title": "Hyper-CVAD course 1", "period": {"start": start(1)}}, [Order("pegaspargase", 4000.0, "[iU]", "iv", ONCE)]))
    card = next(f for f in found if f.rule_id.startswith("plan."))
    assert card.rule_id == "plan.not-in-plan.hyper-cvad.course-a" and "is not part of Course A" in card.detail
    assert not [f for f in found if f.rule_id == "missing-data.plan-dose" or "missing-data.plan-dose" in (f.inputs.get("mergedRuleIds") or [])]
