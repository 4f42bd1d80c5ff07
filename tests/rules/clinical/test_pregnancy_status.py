"""Issue 13 items 1, 5 and 14: current pregnancy / breastfeeding status, and label wording.

Sources: populations.json status_currency (team convention, UNVERIFIED, stated in the row);
SP-01 citation (methotrexate label boxed warning/§4: contraindicated in pregnancy only for
non-neoplastic disease; cyclophosphamide label §4: hypersensitivity and urinary outflow obstruction).
"""

from __future__ import annotations

import pytest

PREG, POS, NEG = "82810-3", "LA15173-0", "LA26683-5"
BREASTFEEDING = "63895-7"


def status(fx, code, days_ago):
    return fx.coded(PREG, fx.LOINC, code, fx.ORDER - fx.days(days_ago))


def pregnancy_cards(findings):
    return {(f.rule_id, f.indicator, f.drug) for f in findings if f.topic == "population" and f.rule_id.startswith(("population.SP-01", "population.SP-02"))}


def adult(fx, *extra, gender="female"):
    return [fx.patient(30, gender), *fx.body(65.0, 165.0), fx.all_dx(), *extra]


MTX = "methotrexate-oral"


def test_old_positive_then_recent_negative_gives_no_pregnancy_card(run, fx):
    _, findings = run(adult(fx, status(fx, POS, 400), status(fx, NEG, 3)), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(findings) == set()


def test_recent_positive_gives_the_label_warning(run, fx):
    _, findings = run(adult(fx, status(fx, POS, 3)), [fx.order(MTX, 20, "mg", "po")], ["population"])
    (card,) = [f for f in findings if f.rule_id == "population.SP-01"]
    assert card.indicator == "warning" and "embryo-fetal toxicity" in card.summary
    assert "NON-neoplastic" in card.detail


def test_later_negative_overrides_older_positive_inside_the_window(run, fx):
    _, findings = run(adult(fx, status(fx, POS, 20), status(fx, NEG, 2)), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(findings) == set()
    _, findings = run(adult(fx, status(fx, NEG, 20), status(fx, POS, 2)), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(findings) == {("population.SP-01", "warning", "methotrexate")}


@pytest.mark.parametrize("days_ago,expected", [
    (30, {("population.SP-01", "warning", "methotrexate")}),  # inside the 30-day currency window
    (31, {("population.SP-01.status-not-current", "warning", "methotrexate")}),  # old positive, nothing later: confirm
    (300, {("population.SP-01.status-not-current", "warning", "methotrexate")}),
    (301, set()),  # beyond one gestation: not evidence of a current pregnancy
])
def test_currency_window_edges(run, fx, days_ago, expected):
    _, findings = run(adult(fx, status(fx, POS, days_ago)), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(findings) == expected


@pytest.mark.parametrize("clinical,expected", [("active", True), ("resolved", False), ("inactive", False), (None, False)])
def test_pregnancy_condition_counts_only_while_active(run, fx, clinical, expected):
    cond = fx.condition(fx.SCT, "77386006", "Pregnant (finding)", status=clinical, onset=fx.ORDER - fx.days(60))
    _, findings = run(adult(fx, cond), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert bool(pregnancy_cards(findings)) is expected


def test_negative_after_an_active_condition_overrides_it(run, fx):
    cond = fx.condition(fx.SCT, "77386006", "Pregnant (finding)", onset=fx.ORDER - fx.days(60))
    _, findings = run(adult(fx, cond, status(fx, NEG, 5)), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(findings) == set()


def test_gender_neither_creates_nor_suppresses(run, fx):
    _, female = run(adult(fx), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(female) == set()
    _, male = run(adult(fx, status(fx, POS, 3), gender="male"), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(male) == {("population.SP-01", "warning", "methotrexate")}
    _, unknown = run(adult(fx, status(fx, POS, 3), gender="unknown"), [fx.order(MTX, 20, "mg", "po")], ["population"])
    assert pregnancy_cards(unknown) == {("population.SP-01", "warning", "methotrexate")}


def test_methotrexate_without_all_diagnosis_is_the_label_contraindication(run, fx):
    resources = [fx.patient(30), *fx.body(65.0, 165.0), status(fx, POS, 3)]
    _, findings = run(resources, [fx.order(MTX, 15, "mg", "po", {"frequency": 1, "period": 1, "periodUnit": "wk"})], ["population"])
    (card,) = [f for f in findings if f.rule_id == "population.SP-01"]
    assert card.indicator == "critical" and "non-neoplastic" in card.summary


def test_cyclophosphamide_pregnancy_is_a_warning(run, fx):
    _, findings = run(adult(fx, status(fx, POS, 3)), [fx.order("cyclophosphamide", 1000, "mg")], ["population"])
    assert pregnancy_cards(findings) == {("population.SP-01", "warning", "cyclophosphamide")}


def test_breastfeeding_coded_answer_and_text(run, fx):
    coded = fx.coded(BREASTFEEDING, fx.SCT, "866041003", fx.ORDER - fx.days(2), "Mother currently breastfeeding (situation)")
    _, findings = run(adult(fx, coded), [fx.order("vincristine", 1.5, "mg")], ["population"])
    (card,) = [f for f in findings if f.rule_id == "population.SP-03"]
    assert "read from the Observation's text" not in card.detail
    text = {**fx.coded(BREASTFEEDING, fx.SCT, "x", fx.ORDER - fx.days(2)), "valueCodeableConcept": {"text": "yes"}}
    _, findings = run(adult(fx, text), [fx.order("vincristine", 1.5, "mg")], ["population"])
    (card,) = [f for f in findings if f.rule_id == "population.SP-03"]
    assert "read from the Observation's text" in card.detail
    negative = {**text, "valueCodeableConcept": {"text": "no"}}
    _, findings = run(adult(fx, negative), [fx.order("vincristine", 1.5, "mg")], ["population"])
    assert not any(f.rule_id == "population.SP-03" for f in findings)
