"""Issue 13 items 8, 10, 11, 13: interactions and contraindications graded per their sources,
with false-alarm (clean) cases for every alert-fatigue item.

Sources: interactions.json DDI-41 (febuxostat label §4), DDI-28 note (hyper-CVAD G-CSF support,
Kantarjian 2000), DDI-27 when qt-risk (team cut-offs, UNVERIFIED), populations.json SP-28
(Oncaspar label §4: serious pancreatitis/thrombosis/hemorrhage WITH PRIOR L-asparaginase therapy).
"""

from __future__ import annotations

import pytest

DAILY = {"frequency": 1, "period": 1, "periodUnit": "d"}


def base(fx, years=40):
    return [fx.patient(years, "male"), *fx.body(80.0, 175.0), fx.all_dx()]


def interaction(findings, rid):
    return [(f.rule_id, f.indicator) for f in findings if f.rule_id == rid]


def test_febuxostat_with_mercaptopurine_is_contraindicated(run, fx):
    active = fx.order("febuxostat", 40, "mg", "po", DAILY, status="active", authored=fx.ORDER - fx.days(20))
    _, findings = run([*base(fx), active], [fx.order("mercaptopurine", 150, "mg", "po", DAILY)], ["interaction"])
    assert interaction(findings, "interaction.DDI-41") == [("interaction.DDI-41", "critical")]
    _, clean = run(base(fx), [fx.order("mercaptopurine", 150, "mg", "po", DAILY)], ["interaction"])
    assert clean == []


def test_gcsf_with_cyclophosphamide_is_info(run, fx):
    gcsf = fx.order("filgrastim", 480, "ug", "iv", DAILY, status="active", authored=fx.ORDER - fx.days(1))
    _, findings = run([*base(fx), gcsf], [fx.order("cyclophosphamide", 600, "mg")], ["interaction"])
    assert interaction(findings, "interaction.DDI-28") == [("interaction.DDI-28", "info")]


def test_cyclophosphamide_with_a_non_supportive_listed_drug_stays_warning(run, fx):
    """Other DDI-28 members (here an ACE inhibitor) keep the base warning: only G-CSF is regraded."""
    ace = {"resourceType": "MedicationRequest", "id": "ace", "status": "active", "intent": "order", "subject": {"reference": "Patient/p1"},
           "medicationCodeableConcept": {"text": "lisinopril"}, "authoredOn": (fx.ORDER - fx.days(30)).isoformat()}
    _, findings = run([*base(fx), ace], [fx.order("cyclophosphamide", 600, "mg")], ["interaction"])
    assert interaction(findings, "interaction.DDI-28") == [("interaction.DDI-28", "warning")]


def ondansetron(fx):
    return fx.order("ondansetron", 8, "mg", "iv", DAILY, status="active", authored=fx.ORDER - fx.days(1))


def test_inotuzumab_with_ondansetron_is_info_when_qt_risk_is_not_shown(run, fx):
    _, findings = run([*base(fx), ondansetron(fx)], [fx.order("inotuzumab-ozogamicin", 1.6, "mg")], ["interaction"])
    (card,) = [f for f in findings if f.rule_id == "interaction.DDI-27"]
    assert card.indicator == "info" and "no QTc within 30 days" in card.detail and "magnesium not read" in card.detail


@pytest.mark.parametrize("qtc,expected", [(470, "info"), (471, "warning")])
def test_inotuzumab_qtc_boundary(run, fx, qtc, expected):
    ecg = fx.quantity("8636-3", qtc, "ms", fx.ORDER - fx.days(2))
    _, findings = run([*base(fx), ondansetron(fx), ecg], [fx.order("inotuzumab-ozogamicin", 1.6, "mg")], ["interaction"])
    assert interaction(findings, "interaction.DDI-27") == [("interaction.DDI-27", expected)]


@pytest.mark.parametrize("k,low,expected", [(3.5, None, "info"), (3.4, None, "warning"), (3.6, 3.7, "warning"), (3.7, 3.7, "info")])
def test_inotuzumab_low_potassium(run, fx, k, low, expected):
    lab = fx.quantity("2823-3", k, "mmol/L", fx.ORDER - fx.days(1), low=low)
    _, findings = run([*base(fx), ondansetron(fx), lab], [fx.order("inotuzumab-ozogamicin", 1.6, "mg")], ["interaction"])
    assert interaction(findings, "interaction.DDI-27") == [("interaction.DDI-27", expected)]


def pancreatitis(fx):
    return fx.condition(fx.SCT, "75694006", "Pancreatitis (disorder)", onset=fx.ORDER - fx.days(40))


def test_pancreatitis_without_prior_asparaginase_is_a_warning(run, fx):
    ctx, findings = run([*base(fx, 10), pancreatitis(fx)], [fx.order("pegaspargase", 2500, "[iU]/m2", "iv")], ["population", "monitoring"])
    assert ctx.has_fact("pancreatitis")
    sp28 = [(f.rule_id, f.indicator) for f in findings if f.rule_id.startswith(("population.SP-28", "monitoring.pegaspargase"))]
    assert sp28 == [("population.SP-28", "warning")]


def test_pancreatitis_with_prior_asparaginase_is_critical(run, fx):
    prior = fx.given("pegaspargase", fx.ORDER - fx.days(45), 2500, "[iU]")
    _, findings = run([*base(fx, 10), pancreatitis(fx), prior], [fx.order("pegaspargase", 2500, "[iU]/m2", "iv")], ["population", "monitoring"])
    sp28 = [(f.rule_id, f.indicator) for f in findings if f.rule_id.startswith(("population.SP-28", "monitoring.pegaspargase"))]
    assert sp28 == [("population.SP-28", "critical")]
    (card,) = [f for f in findings if f.rule_id == "population.SP-28"]
    assert "Prior asparaginase therapy on record" in card.detail


def test_no_pancreatitis_no_card(run, fx):
    _, findings = run(base(fx, 10), [fx.order("pegaspargase", 2500, "[iU]/m2", "iv")], ["population"])
    assert not any(f.rule_id.startswith("population.SP-28") for f in findings)
